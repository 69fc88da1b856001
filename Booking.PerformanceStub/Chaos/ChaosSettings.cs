namespace Booking.PerformanceStub.Chaos;

public sealed record ChaosRequest(double? FailureRate, int? LatencyMs);

/// <summary>
/// Fault injection (only with <c>Chaos:Enabled</c>) for allocations and deallocations: a share of them fail with 503 and each waits a while first,
/// so fault tests can watch the saga retry and compensate.
/// </summary>
public sealed class ChaosSettings
{
    private volatile ChaosRequest _current = new(0, 0);

    public ChaosRequest Current => _current;

    public void Set(ChaosRequest settings) => _current = settings;

    public async Task<bool> ShouldFailAsync(CancellationToken cancellationToken)
    {
        await DelayAsync(cancellationToken).ConfigureAwait(false);
        return Fails();
    }

    /// <summary>The configured latency, once per call.</summary>
    public async Task DelayAsync(CancellationToken cancellationToken)
    {
        if (_current.LatencyMs is > 0 and var latency)
        {
            await Task.Delay(latency, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Whether this one operation fails, at the configured rate.</summary>
    public bool Fails() => _current.FailureRate is > 0 and var rate && Random.Shared.NextDouble() < rate;
}

public static class ChaosApi
{
    public static IEndpointRouteBuilder MapChaosApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup(string.Empty).RequireAuthorization(BookingAuthentication.AdminPolicy).MapPost("/_chaos", (ChaosRequest request, ChaosSettings chaos) =>
        {
            if (request.FailureRate is < 0 or > 1 || request.LatencyMs is < 0 or > 60_000)
            {
                return Results.ValidationProblem(
                    new Dictionary<string, string[]>(StringComparer.Ordinal) { ["failureRate"] = ["failureRate is 0..1 and latencyMs 0..60000."] },
                    extensions: new Dictionary<string, object?>(StringComparer.Ordinal) { ["code"] = ProblemCodes.ValidationFailed });
            }

            chaos.Set(new ChaosRequest(request.FailureRate ?? 0, request.LatencyMs ?? 0));
            return Results.Ok(chaos.Current);
        }).WithName("SetChaos").WithSummary("Development only: makes allocations fail or slow.");
        return app;
    }
}
