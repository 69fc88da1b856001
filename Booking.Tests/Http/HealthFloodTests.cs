using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Booking.Tests.Http;

/// <summary>The booking API with one more health check, a slow one that counts its runs.</summary>
public sealed class CountedHealthApp(Dependencies dependencies) : BookingApp(dependencies)
{
    private int _runs;

    public int Runs => Volatile.Read(ref _runs);

    protected override void ConfigureApiServices(IServiceCollection services) =>
        services.AddHealthChecks().AddAsyncCheck("counted", async cancellationToken =>
        {
            Interlocked.Increment(ref _runs);
            await Task.Delay(TimeSpan.FromMilliseconds(300), cancellationToken);
            return HealthCheckResult.Healthy();
        });
}

public sealed class HealthFloodTests(CountedHealthApp app) : IClassFixture<CountedHealthApp>
{
    [Fact]
    public async Task A_flood_of_anonymous_health_requests_runs_the_checks_once_for_all_of_them()
    {
        using var anyone = app.Client(userId: null);
        await Task.Delay(CoalescedHealthChecks.Freshness);
        var before = app.Runs;

        var answers = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => anyone.GetAsync(ServiceDefaultsExtensions.HealthEndpointPath)));

        Assert.All(answers, answer => Assert.Equal(HttpStatusCode.OK, answer.StatusCode));
        Assert.Equal(1, app.Runs - before);

        // A report is only kept for a moment: the next caller after that gets a fresh one.
        await Task.Delay(CoalescedHealthChecks.Freshness);
        Assert.Equal(HttpStatusCode.OK, (await anyone.GetAsync(ServiceDefaultsExtensions.HealthEndpointPath)).StatusCode);
        Assert.Equal(2, app.Runs - before);
    }
}
