using Booking.Api.Http;
using Microsoft.AspNetCore.Http;
using Npgsql;
using StackExchange.Redis;

namespace Booking.Tests.Http;

public sealed class ExceptionClassificationTests
{
    public static TheoryData<Exception, int, string> Cases => new()
    {
        { new DbUpdateException("save failed", new NpgsqlException("The connection pool has been exhausted", new TimeoutException())), 503, ProblemCodes.DependencyUnavailable },
        { new InvalidOperationException("wrapped", new NpgsqlException("Exception while reading from stream")), 503, ProblemCodes.DependencyUnavailable },
        { new RedisTimeoutException("Timeout performing EVALSHA", CommandStatus.Sent), 503, ProblemCodes.DependencyUnavailable },
        { new HttpRequestException("connection refused"), 503, ProblemCodes.DependencyUnavailable },
        // The performance service's resilience pipeline giving up: a timeout, an open circuit, a rate limit.
        { new Polly.Timeout.TimeoutRejectedException("The operation didn't complete within the allowed timeout of '00:00:10'."), 503, ProblemCodes.DependencyUnavailable },
        { new Polly.CircuitBreaker.BrokenCircuitException("The circuit is now open"), 503, ProblemCodes.DependencyUnavailable },
        { new Polly.RateLimiting.RateLimiterRejectedException(), 503, ProblemCodes.DependencyUnavailable },
        // PostgreSQL shutting down, starting, out of resources or read-only (a standby): an outage, not a bug.
        { new DbUpdateException("save failed", new PostgresException("terminating connection due to administrator command", "FATAL", "FATAL", PostgresErrorCodes.AdminShutdown)), 503, ProblemCodes.DependencyUnavailable },
        { new PostgresException("the database system is starting up", "FATAL", "FATAL", PostgresErrorCodes.CannotConnectNow), 503, ProblemCodes.DependencyUnavailable },
        { new PostgresException("cannot execute INSERT in a read-only transaction", "ERROR", "ERROR", PostgresErrorCodes.ReadOnlySqlTransaction), 503, ProblemCodes.DependencyUnavailable },
        { new PostgresException("could not write to file", "ERROR", "ERROR", PostgresErrorCodes.DiskFull), 503, ProblemCodes.DependencyUnavailable },
        { new BadHttpRequestException("Request body too large.", StatusCodes.Status413PayloadTooLarge), 413, ProblemCodes.ValidationFailed },
        { new InvalidOperationException("a bug"), 500, "INTERNAL_ERROR" },
        { new DbUpdateException("bad SQL", new PostgresException("syntax error", "ERROR", "ERROR", PostgresErrorCodes.SyntaxError)), 500, "INTERNAL_ERROR" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Dependency_failures_are_503_wherever_they_are_wrapped_and_only_bugs_are_500(Exception exception, int status, string code)
    {
        var (actualStatus, actualCode, _, _) = ProblemExceptionHandler.Classify(exception);

        Assert.Equal((status, code), (actualStatus, actualCode));
    }
}
