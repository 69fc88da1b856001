using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// The health checks run at most once at a time, and at most once a <see cref="Freshness"/>, however many ask: every
/// caller meanwhile gets the same report. <c>/health</c> answers anyone, and each run costs a PostgreSQL connection, a
/// Redis round trip and, where Kafka is away, a thread blocked for two seconds: a flood of it would otherwise take
/// the connections and threads the service's own requests need.
/// </summary>
public sealed class CoalescedHealthChecks(HealthCheckService checks) : HealthCheckService
{
    /// <summary>How long a finished report answers new callers, counted from when its run started.</summary>
    public static readonly TimeSpan Freshness = TimeSpan.FromSeconds(1);

    private static readonly object Everything = new();
    private readonly Lock _lock = new();
    private readonly Dictionary<object, (Task<HealthReport> Report, long StartedAt)> _runs = [];

    /// <summary>Puts itself in front of the health check service registered so far (ASP.NET Core's own).</summary>
    public static void Register(IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        var own = services.Last(service => service.ServiceType == typeof(HealthCheckService));
        services.Replace(ServiceDescriptor.Singleton<HealthCheckService>(provider =>
            new CoalescedHealthChecks((HealthCheckService)ActivatorUtilities.CreateInstance(provider, own.ImplementationType!))));
    }

    /// <summary>
    /// One report per predicate (the endpoints' predicates are fixed instances: <c>/health</c> has none, <c>/alive</c>
    /// its own). A run is never cut short by the caller that started it going away: others may be waiting for it.
    /// </summary>
    public override Task<HealthReport> CheckHealthAsync(Func<HealthCheckRegistration, bool>? predicate, CancellationToken cancellationToken = default)
    {
        var key = (object?)predicate ?? Everything;
        Task<HealthReport> report;
        lock (_lock)
        {
            if (!_runs.TryGetValue(key, out var run) || IsStale(run))
            {
                // A caller with a predicate of its own each time (none here does) must not grow the table.
                foreach (var stale in _runs.Where(entry => IsStale(entry.Value)).Select(entry => entry.Key).ToList())
                {
                    _runs.Remove(stale);
                }

                run = (Task.Run(() => checks.CheckHealthAsync(predicate, CancellationToken.None), CancellationToken.None), Stopwatch.GetTimestamp());
                _runs[key] = run;
            }

            report = run.Report;
        }

        return report.WaitAsync(cancellationToken);
    }

    private static bool IsStale((Task<HealthReport> Report, long StartedAt) run) =>
        run.Report.IsCompleted && Stopwatch.GetElapsedTime(run.StartedAt) >= Freshness;
}
