using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Npgsql;
using StackExchange.Redis;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Turns what escapes a handler into a problem, in every service: unreadable input is the caller's 4xx (never a
/// 500), an unreachable Redis, PostgreSQL or peer service is a 503, and only real faults remain 500s.
/// </summary>
public sealed partial class ProblemExceptionHandler(IProblemDetailsService problems, ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
{
    /// <summary>
    /// Problem details for every error a service answers: escaped exceptions through this handler (unreadable
    /// bodies included, which would otherwise be bare 400s), and a <c>code</c> by status where nothing named one.
    /// </summary>
    public static IServiceCollection AddBookingProblemDetails(IServiceCollection services)
    {
        services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        services.AddExceptionHandler<ProblemExceptionHandler>();
        services.AddProblemDetails(options => options.CustomizeProblemDetails = context =>
        {
            var status = context.ProblemDetails.Status ?? context.HttpContext.Response.StatusCode;
            context.ProblemDetails.Extensions.TryAdd("code", ProblemCodes.ForStatus(status));
        });

        // After ASP.NET Core's own writer, which declines a caller whose Accept names no JSON type.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IProblemDetailsWriter, JsonProblemWhateverAccepted>());
        return services;
    }

    /// <summary>
    /// The problem as JSON even to a caller whose <c>Accept</c> names only other types (<c>text/html</c>): the API has
    /// no other form, and without a writer that takes it the problem would be lost (a bare status, or a 500 where
    /// middleware must write one). ASP.NET Core's writer does the writing, as for every other caller.
    /// </summary>
    private sealed class JsonProblemWhateverAccepted : IProblemDetailsWriter
    {
        private static readonly object Writing = new();

        /// <summary>Not while it writes: should the service ask it again before its own writer, it declines rather than loop.</summary>
        public bool CanWrite(ProblemDetailsContext context) => !context.HttpContext.Items.ContainsKey(Writing);

        public async ValueTask WriteAsync(ProblemDetailsContext context)
        {
            var (items, headers) = (context.HttpContext.Items, context.HttpContext.Request.Headers);
            var accept = headers.Accept;
            (items[Writing], headers.Accept) = (true, "application/problem+json");
            try
            {
                await context.HttpContext.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(context).ConfigureAwait(false);
            }
            finally
            {
                items.Remove(Writing);
                headers.Accept = accept;
            }
        }
    }

    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is OperationCanceledException && httpContext.RequestAborted.IsCancellationRequested)
        {
            // The caller went away: nobody reads an answer, and it is no fault of ours (499, nginx's "client closed").
            httpContext.Response.StatusCode = 499;
            return true;
        }

        var (status, code, title, detail) = Classify(exception);

        if (status >= 500)
        {
            LogFailure(exception, httpContext.Request.Method, httpContext.Request.Path);
        }

        httpContext.Response.StatusCode = status;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails =
            {
                Status = status,
                Title = title,
                Detail = detail,
                Extensions = { ["code"] = code },
            },
        }).ConfigureAwait(false);
    }

    /// <summary>
    /// What the caller is told. Dependency failures are recognised anywhere in the inner-exception chain, because
    /// EF Core wraps PostgreSQL's (a pool wait that timed out under load arrives as a DbUpdateException).
    /// </summary>
    public static (int Status, string Code, string Title, string? Detail) Classify(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        switch (exception)
        {
            case BadHttpRequestException bad:
                return (bad.StatusCode, ProblemCodes.ValidationFailed, "The request could not be read", Describe(bad));
            case JsonException json:
                return (StatusCodes.Status400BadRequest, ProblemCodes.ValidationFailed, "The request could not be read", json.Message);
        }

        for (var current = exception; current is not null; current = current.InnerException)
        {
            switch (current)
            {
                case RedisException:
                    return Unavailable("Redis");
                case PostgresException postgres when IsOutage(postgres.SqlState):
                    return Unavailable("PostgreSQL");
                case PostgresException { IsTransient: false }:
                    // The server refused a statement: a fault of ours, not an outage.
                    return (StatusCodes.Status500InternalServerError, ProblemCodes.InternalError, "An unexpected error occurred", null);
                case NpgsqlException:
                    return Unavailable("PostgreSQL");
                case TimeoutException:
                    return Unavailable("A dependency");
                case HttpRequestException:
                case Polly.ExecutionRejectedException:
                    // Refused, timed out, or cut off by the HTTP client's resilience pipeline (circuit open, timeout).
                    return Unavailable("Another service");
            }
        }

        return (StatusCodes.Status500InternalServerError, ProblemCodes.InternalError, "An unexpected error occurred", null);
    }

    /// <summary>
    /// Whether PostgreSQL did not answer (no connection, a timeout, a server going away or out of resources), as
    /// opposed to refusing one statement (a deadlock, a conflict, a constraint), which another statement may not meet.
    /// </summary>
    public static bool IsPostgresAway(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            switch (current)
            {
                case PostgresException postgres:
                    return IsOutage(postgres.SqlState);
                case NpgsqlException or TimeoutException:
                    return true;
            }
        }

        return false;
    }

    /// <summary>
    /// PostgreSQL going away or unable to serve, whatever Npgsql calls transient: a connection failure (class 08), too
    /// few resources (53), the server shutting down or starting (57P01-57P03), a read-only server (25006, a standby).
    /// </summary>
    private static bool IsOutage(string sqlState) =>
        sqlState.StartsWith("08", StringComparison.Ordinal)
        || sqlState.StartsWith("53", StringComparison.Ordinal)
        || sqlState is PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown or PostgresErrorCodes.CannotConnectNow
            or PostgresErrorCodes.ReadOnlySqlTransaction;

    private static (int, string, string, string?) Unavailable(string what) =>
        (StatusCodes.Status503ServiceUnavailable, ProblemCodes.DependencyUnavailable, "A dependency is unavailable", $"{what} did not answer; try again.");

    private static string Describe(BadHttpRequestException exception) =>
        exception.InnerException is JsonException json
            ? $"The body is not valid JSON for this request: {json.Message}"
            : exception.Message;

    [LoggerMessage(Level = LogLevel.Error, Message = "{Method} {Path} failed")]
    private partial void LogFailure(Exception exception, string method, string path);
}
