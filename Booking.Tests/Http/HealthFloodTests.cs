using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Booking.Tests.Http;

/// <summary>
/// The booking API with one more health check, which counts its runs and finishes only once the test lets it, and a
/// count of the health requests that asked for a report.
/// </summary>
public sealed class CountedHealthApp(Dependencies dependencies) : BookingApp(dependencies)
{
    private int _runs;
    private int _asked;
    private TaskCompletionSource _gate = Open();

    public int Runs => Volatile.Read(ref _runs);

    public int Asked => Volatile.Read(ref _asked);

    /// <summary>Runs of the checks from now on wait until <see cref="OpenGate"/>.</summary>
    public void CloseGate() => _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void OpenGate() => _gate.TrySetResult();

    protected override void ConfigureApiServices(IServiceCollection services)
    {
        services.AddHealthChecks().AddAsyncCheck("counted", async cancellationToken =>
        {
            Interlocked.Increment(ref _runs);
            await _gate.Task.WaitAsync(cancellationToken);
            return HealthCheckResult.Healthy();
        });
        var coalesced = services.Single(service => service.ServiceType == typeof(HealthCheckService));
        services.Replace(ServiceDescriptor.Singleton<HealthCheckService>(provider =>
            new CountedAsks(this, (HealthCheckService)coalesced.ImplementationFactory!(provider))));
    }

    private static TaskCompletionSource Open()
    {
        var open = new TaskCompletionSource();
        open.SetResult();
        return open;
    }

    /// <summary>Counts each caller as it asks the coalescing service, so none is counted while still on its way to it.</summary>
    private sealed class CountedAsks(CountedHealthApp app, HealthCheckService coalesced) : HealthCheckService
    {
        public override Task<HealthReport> CheckHealthAsync(Func<HealthCheckRegistration, bool>? predicate, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref app._asked);
            return coalesced.CheckHealthAsync(predicate, cancellationToken);
        }
    }
}

public sealed class HealthFloodTests(CountedHealthApp app) : IClassFixture<CountedHealthApp>
{
    [Fact]
    public async Task A_flood_of_anonymous_health_requests_runs_the_checks_once_for_all_of_them()
    {
        using var anyone = app.Client(userId: null);
        await Task.Delay(CoalescedHealthChecks.Freshness);
        var (runs, asked) = (app.Runs, app.Asked);

        // Fifty callers while the checks run: all of them get that one run's report.
        app.CloseGate();
        var flood = Task.WhenAll(Enumerable.Range(0, 50).Select(_ => anyone.GetAsync(ServiceDefaultsExtensions.HealthEndpointPath)));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (app.Asked - asked < 50)
        {
            Assert.True(DateTime.UtcNow < deadline, $"Only {app.Asked - asked} of 50 health requests asked for a report.");
            await Task.Delay(20);
        }

        app.OpenGate();
        Assert.All(await flood, answer => Assert.Equal(HttpStatusCode.OK, answer.StatusCode));
        Assert.Equal(1, app.Runs - runs);

        // A report is only kept for a moment: the next caller after that gets a fresh one.
        await Task.Delay(CoalescedHealthChecks.Freshness);
        Assert.Equal(HttpStatusCode.OK, (await anyone.GetAsync(ServiceDefaultsExtensions.HealthEndpointPath)).StatusCode);
        Assert.Equal(2, app.Runs - runs);
    }
}
