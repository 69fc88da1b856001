using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// The health checks run at most once at a time, however many ask: every caller while they run, and for
/// <see cref="Freshness"/> after, gets the same report. <c>/health</c> answers anyone, and each run costs a PostgreSQL connection, a
/// Redis round trip and, where Kafka is away, a thread blocked for two seconds: a flood of it would otherwise take
/// the connections and threads the service's own requests need.
/// </summary>
public sealed class CoalescedHealthChecks(HealthCheckService checks) : HealthCheckService
{
    /// <summary>How long a finished report still answers new callers.</summary>
    public static readonly TimeSpan Freshness = TimeSpan.FromSeconds(1);

    private static readonly object Everything = new();
    private readonly Lock _lock = new();
    private readonly Dictionary<object, Task<(HealthReport Report, long FinishedAt)>> _runs = [];

    /// <summary>Puts itself in front of the health check service registered so far (ASP.NET Core's own); once.</summary>
    public static void Register(IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddHealthChecks();
        var own = services.Last(service => service.ServiceType == typeof(HealthCheckService));
        if (own.ImplementationFactory?.Target is Decorated)
        {
            return;
        }

        services.Replace(ServiceDescriptor.Singleton<HealthCheckService>(new Decorated(own).Create));
    }

    /// <summary>The registration it stands in front of, however that was made.</summary>
    private sealed class Decorated(ServiceDescriptor own)
    {
        public CoalescedHealthChecks Create(IServiceProvider provider) => new((HealthCheckService)(
            own.ImplementationInstance
            ?? own.ImplementationFactory?.Invoke(provider)
            ?? ActivatorUtilities.CreateInstance(provider, own.ImplementationType!)));
    }

    /// <summary>
    /// One report per predicate (the endpoints' predicates are fixed instances: <c>/health</c> has none, <c>/alive</c>
    /// its own). A run is never cut short by the caller that started it going away: others may be waiting for it.
    /// </summary>
    public override async Task<HealthReport> CheckHealthAsync(Func<HealthCheckRegistration, bool>? predicate, CancellationToken cancellationToken = default)
    {
        var key = (object?)predicate ?? Everything;
        Task<(HealthReport Report, long FinishedAt)> run;
        lock (_lock)
        {
            if (!_runs.TryGetValue(key, out run!) || IsStale(run))
            {
                // A caller with a predicate of its own each time (none here does) must not grow the table.
                foreach (var stale in _runs.Where(entry => IsStale(entry.Value)).Select(entry => entry.Key).ToList())
                {
                    _runs.Remove(stale);
                }

                run = Task.Run(() => RunAsync(predicate), CancellationToken.None);
                _runs[key] = run;
            }
        }

        return (await run.WaitAsync(cancellationToken).ConfigureAwait(false)).Report;
    }

    private async Task<(HealthReport Report, long FinishedAt)> RunAsync(Func<HealthCheckRegistration, bool>? predicate) =>
        (await checks.CheckHealthAsync(predicate, CancellationToken.None).ConfigureAwait(false), Stopwatch.GetTimestamp());

    /// <summary>A run that failed is stale at once; a report, <see cref="Freshness"/> after its run finished.</summary>
    private static bool IsStale(Task<(HealthReport Report, long FinishedAt)> run) =>
        run.IsCompleted && (!run.IsCompletedSuccessfully || Stopwatch.GetElapsedTime(run.Result.FinishedAt) >= Freshness);
}
