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

    public static TheoryData<Exception, bool> PostgresCases => new()
    {
        { new DbUpdateException("save failed", new NpgsqlException("Exception while reading from stream", new TimeoutException())), true },
        { new NpgsqlException("Failed to connect to 127.0.0.1:5432"), true },
        { new InvalidOperationException("wrapped", new TimeoutException()), true },
        { new PostgresException("terminating connection due to administrator command", "FATAL", "FATAL", PostgresErrorCodes.AdminShutdown), true },
        { new PostgresException("too many connections", "FATAL", "FATAL", PostgresErrorCodes.TooManyConnections), true },
        // One statement refused: the next may well go through, so these say nothing about PostgreSQL being away.
        { new DbUpdateException("save failed", new PostgresException("deadlock detected", "ERROR", "ERROR", PostgresErrorCodes.DeadlockDetected)), false },
        { new DbUpdateException("save failed", new PostgresException("duplicate key", "ERROR", "ERROR", PostgresErrorCodes.UniqueViolation)), false },
        { new PostgresException("could not serialize access", "ERROR", "ERROR", PostgresErrorCodes.SerializationFailure), false },
        { new InvalidOperationException("a bug"), false },
    };

    [Theory]
    [MemberData(nameof(PostgresCases))]
    public void PostgreSQL_is_away_only_when_it_did_not_answer_not_when_it_refused_one_statement(Exception exception, bool away) =>
        Assert.Equal(away, ProblemExceptionHandler.IsPostgresAway(exception));
}
