using System.Security.Cryptography;
using System.Text.Json;
using Booking.Api.Http;
using Booking.Core;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Booking.Api.Idempotency;

/// <summary>
/// <c>Idempotency-Key</c> on creating POSTs: the first response (status, Location, body) is kept in Redis and
/// replayed for the same key and body; the same key with another body is 422 <c>IDEMPOTENCY_KEY_REUSED</c>.
/// Keys are scoped to the caller. Server errors are not kept, so a retry after one runs again.
/// </summary>
public sealed class IdempotencyMiddleware(
    RequestDelegate next,
    IConnectionMultiplexer redis,
    IOptions<BookingOptions> options,
    IProblemDetailsService problems)
{
    public const string HeaderName = "Idempotency-Key";
    public const string ReplayedHeaderName = "Idempotent-Replayed";
    private const int MaxKeyLength = 255;
    private static readonly TimeSpan InFlightLease = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan InFlightWait = TimeSpan.FromSeconds(10);

    public async Task InvokeAsync(HttpContext context)
    {
        var key = context.Request.Headers[HeaderName].ToString();
        // Only an authenticated caller's keys are stored: anyone else gets their 401 without touching Redis.
        var caller = context.FindUserId();
        if (!HttpMethods.IsPost(context.Request.Method) || key.Length == 0 || caller is null)
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

        var storeKey = (RedisKey)$"idem:{{{caller}}}:{key}";
        var fingerprint = await FingerprintAsync(context.Request).ConfigureAwait(false);
        var database = redis.GetDatabase();

        var waited = TimeSpan.Zero;
        while (true)
        {
            var claim = JsonSerializer.Serialize(new StoredResponse(fingerprint, Completed: false, 0, null, null, null));
            if (await database.StringSetAsync(storeKey, claim, InFlightLease, When.NotExists).ConfigureAwait(false))
            {
                break;
            }

            var existing = await database.StringGetAsync(storeKey).ConfigureAwait(false);
            if (existing.IsNull)
            {
                continue;
            }

            var stored = JsonSerializer.Deserialize<StoredResponse>(existing.ToString())!;
            if (stored.Fingerprint != fingerprint)
            {
                await WriteProblemAsync(context, StatusCodes.Status422UnprocessableEntity, ProblemCodes.IdempotencyKeyReused,
                    $"The {HeaderName} '{key}' was already used with a different request.").ConfigureAwait(false);
                return;
            }

            if (stored.Completed)
            {
                await ReplayAsync(context, stored).ConfigureAwait(false);
                return;
            }

            if (waited >= InFlightWait)
            {
                await WriteProblemAsync(context, StatusCodes.Status409Conflict, ProblemCodes.InvalidState,
                    $"A request with the {HeaderName} '{key}' is still being processed; retry shortly.").ConfigureAwait(false);
                return;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), context.RequestAborted).ConfigureAwait(false);
            waited += TimeSpan.FromMilliseconds(50);
        }

        var original = context.Response.Body;
        using var buffer = new MemoryStream();
        context.Response.Body = buffer;
        try
        {
            await next(context).ConfigureAwait(false);
        }
        catch
        {
            await database.KeyDeleteAsync(storeKey).ConfigureAwait(false);
            throw;
        }
        finally
        {
            context.Response.Body = original;
        }

        if (context.Response.StatusCode >= 500)
        {
            await database.KeyDeleteAsync(storeKey).ConfigureAwait(false);
        }
        else
        {
            var completed = new StoredResponse(
                fingerprint,
                Completed: true,
                context.Response.StatusCode,
                context.Response.ContentType,
                context.Response.Headers.Location.ToString() is { Length: > 0 } location ? location : null,
                Convert.ToBase64String(buffer.GetBuffer(), 0, (int)buffer.Length));
            await database.StringSetAsync(storeKey, JsonSerializer.Serialize(completed), options.Value.IdempotencyRetention).ConfigureAwait(false);
        }

        buffer.Position = 0;
        await buffer.CopyToAsync(original, context.RequestAborted).ConfigureAwait(false);
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

    private Task WriteProblemAsync(HttpContext context, int status, string code, string detail)
    {
        context.Response.StatusCode = status;
        return problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = { Status = status, Title = "Idempotency-Key conflict", Detail = detail, Extensions = { ["code"] = code } },
        }).AsTask();
    }

    private sealed record StoredResponse(string Fingerprint, bool Completed, int Status, string? ContentType, string? Location, string? Body);
}
