using System.Security.Cryptography;
using Booking.Api.Http;
using StackExchange.Redis;

namespace Booking.Api.Idempotency;

/// <summary>
/// <c>Idempotency-Key</c> on creating POSTs (<see cref="IdempotentEndpoint"/>): the first response (status, Location,
/// body) is kept in Redis and replayed for the same key and body; the same key with another body is 422
/// <c>IDEMPOTENCY_KEY_REUSED</c>.
/// Keys are scoped to the caller, bounded per caller, and kept only for authenticated callers. A request holds its
/// key while it runs (renewed, so a slow one is never run twice); server errors, and answers that say to retry, are not
/// kept, so a retry runs again.
/// </summary>
public sealed partial class IdempotencyMiddleware(RequestDelegate next, IdempotencyStore store, IProblemDetailsService problems, ILogger<IdempotencyMiddleware> logger)
{
    public const string HeaderName = "Idempotency-Key";
    public const string ReplayedHeaderName = "Idempotent-Replayed";
    private const int MaxKeyLength = 255;

    /// <summary>
    /// Responses larger than this are not kept. The largest a creating POST answers is a reservation with its
    /// details: 64 KiB of data at most, measured as the API writes it (<see cref="Details.DetailRules.Size"/>), so every
    /// one fits. What one user keeps in all is bounded by <see cref="Booking.Core.BookingOptions.IdempotencyBytesPerUser"/>.
    /// </summary>
    private const int MaxStoredBodyBytes = 256 * 1024;

    private static readonly TimeSpan InFlightWait = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan InFlightPoll = TimeSpan.FromMilliseconds(50);

    public async Task InvokeAsync(HttpContext context)
    {
        var key = context.Request.Headers[HeaderName].ToString();
        // Only an authenticated caller's keys are stored: anyone else gets their 401 without touching Redis.
        var caller = context.FindUserId();
        if (key.Length == 0 || caller is null || !context.GetEndpoint().AcceptsIdempotencyKey())
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        if (key.Length > MaxKeyLength || key.Any(char.IsControl))
        {
            await WriteProblemAsync(context, StatusCodes.Status400BadRequest, ProblemCodes.ValidationFailed,
                $"The {HeaderName} header must be 1 to {MaxKeyLength} printable characters.").ConfigureAwait(false);
            return;
        }

        var claim = new StoredResponse(await FingerprintAsync(context.Request).ConfigureAwait(false), Completed: false, 0, null, null, null, Guid.NewGuid());
        if (await ClaimAsync(context, caller, key, claim).ConfigureAwait(false))
        {
            await using var response = await RunAsync(context, caller, key, claim).ConfigureAwait(false);
            await StoreAndSendAsync(context, caller, key, claim, response).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Claims the key, or answers from what is there: the stored response, 422 for another body, or 409 when the
    /// first request is still running after <see cref="InFlightWait"/>. True when this request is to run.
    /// </summary>
    private async Task<bool> ClaimAsync(HttpContext context, string caller, string key, StoredResponse claim)
    {
        for (var waited = TimeSpan.Zero; ; waited += InFlightPoll)
        {
            if (await store.TryClaimAsync(caller, key, claim).ConfigureAwait(false))
            {
                return true;
            }

            var stored = await store.ReadAsync(caller, key).ConfigureAwait(false);
            if (stored is null)
            {
                continue;
            }

            if (stored.Fingerprint != claim.Fingerprint)
            {
                await WriteProblemAsync(context, StatusCodes.Status422UnprocessableEntity, ProblemCodes.IdempotencyKeyReused,
                    $"The {HeaderName} '{key}' was already used with a different request.").ConfigureAwait(false);
                return false;
            }

            if (stored.Completed)
            {
                await ReplayAsync(context, stored).ConfigureAwait(false);
                return false;
            }

            if (waited >= InFlightWait)
            {
                await WriteProblemAsync(context, StatusCodes.Status409Conflict, ProblemCodes.InvalidState,
                    $"A request with the {HeaderName} '{key}' is still being processed; retry shortly.").ConfigureAwait(false);
                return false;
            }

            await Task.Delay(InFlightPoll, context.RequestAborted).ConfigureAwait(false);
        }
    }

    /// <summary>Runs the request with its claim kept alive and its response captured; frees the key if it throws.</summary>
    private async Task<MemoryStream> RunAsync(HttpContext context, string caller, string key, StoredResponse claim)
    {
        var original = context.Response.Body;
        var buffer = new MemoryStream();
        context.Response.Body = buffer;
        using var running = new CancellationTokenSource();
        var renewing = store.RenewWhileRunningAsync(caller, key, claim, running.Token);
        try
        {
            await next(context).ConfigureAwait(false);
            return buffer;
        }
        catch
        {
            await buffer.DisposeAsync().ConfigureAwait(false);
            await store.ReleaseAsync(caller, key, claim).ConfigureAwait(false);
            throw;
        }
        finally
        {
            await running.CancelAsync().ConfigureAwait(false);
            await renewing.ConfigureAwait(false);
            context.Response.Body = original;
        }
    }

    /// <summary>
    /// Keeps the response for replays, then sends it; frees the key instead after a server error, a 429 (the request
    /// was not run: the same key later runs it), an answer that says to retry (<see cref="IdempotentEndpoint.RunAgainOnRetry"/>)
    /// or an oversized body.
    /// </summary>
    private async Task StoreAndSendAsync(HttpContext context, string caller, string key, StoredResponse claim, MemoryStream response)
    {
        try
        {
            await StoreAsync(context, caller, key, claim, response).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            // The request ran: its caller gets its answer all the same. The key stays claimed until the claim's lease
            // runs out; a retry meanwhile is told the request is still in progress.
            LogStoreFailed(exception, key, context.Response.StatusCode);
        }

        response.Position = 0;
        await response.CopyToAsync(context.Response.Body, context.RequestAborted).ConfigureAwait(false);
    }

    private async Task StoreAsync(HttpContext context, string caller, string key, StoredResponse claim, MemoryStream response)
    {
        if (context.Response.StatusCode is >= 500 or StatusCodes.Status429TooManyRequests || context.RunsAgainOnRetry() || response.Length > MaxStoredBodyBytes)
        {
            if (response.Length > MaxStoredBodyBytes)
            {
                LogNotStored(key, response.Length);
            }

            await store.ReleaseAsync(caller, key, claim).ConfigureAwait(false);
        }
        else
        {
            await store.CompleteAsync(caller, key, claim, claim with
            {
                Completed = true,
                Status = context.Response.StatusCode,
                ContentType = context.Response.ContentType,
                Location = context.Response.Headers.Location.ToString() is { Length: > 0 } location ? location : null,
                Body = Convert.ToBase64String(response.GetBuffer(), 0, (int)response.Length),
            }).ConfigureAwait(false);
        }
    }

    private static async Task<string> FingerprintAsync(HttpRequest request)
    {
        request.EnableBuffering();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(System.Text.Encoding.UTF8.GetBytes($"{request.Method} {request.Path}{request.QueryString}\n"));
        var chunk = new byte[8192];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, request.HttpContext.RequestAborted).ConfigureAwait(false)) > 0)
        {
            hash.AppendData(chunk, 0, read);
        }

        request.Body.Position = 0;
        return Convert.ToHexString(hash.GetHashAndReset());
    }

    private static async Task ReplayAsync(HttpContext context, StoredResponse stored)
    {
        context.Response.StatusCode = stored.Status;
        context.Response.ContentType = stored.ContentType;
        if (stored.Location is not null)
        {
            context.Response.Headers.Location = stored.Location;
        }

        context.Response.Headers[ReplayedHeaderName] = "true";
        var body = Convert.FromBase64String(stored.Body ?? string.Empty);
        await context.Response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
    }

    private Task WriteProblemAsync(HttpContext context, int status, string code, string detail) =>
        problems.WriteProblemAsync(context, status, "Idempotency-Key conflict", detail, code);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The {Status} response to Idempotency-Key '{Key}' could not be kept (Redis failed); it was sent all the same")]
    private partial void LogStoreFailed(Exception exception, string key, int status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The response to Idempotency-Key '{Key}' ({Bytes} bytes) is too large to keep; a retry runs again")]
    private partial void LogNotStored(string key, long bytes);
}
