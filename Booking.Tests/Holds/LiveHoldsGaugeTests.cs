using System.Diagnostics.Metrics;
using System.Globalization;
using Booking.Tests.Faults;

namespace Booking.Tests.Holds;

/// <summary>
/// <c>booking.holds.live</c>, from the API's hold sweeper. A Redis of the class's own: the gauge counts every hold on
/// every registered resource, so holds of other tests would count too.
/// </summary>
public sealed class LiveHoldsGaugeTests(OwnRedisApp app) : IClassFixture<OwnRedisApp>
{
    private const string LiveHolds = "booking.holds.live";

    [Fact]
    public async Task The_live_holds_gauge_counts_the_holds_on_every_registered_resource_as_of_the_last_sweep()
    {
        var (performance, restaurant) = (await app.CreatePerformanceAsync(("A", 1, 4)), $"bistro-{Guid.NewGuid():N}");
        using var client = app.Client();
        var holds = new[]
        {
            (await client.HoldSeatsAsync(performance, "A-1-1", "A-1-2")).HoldId,
            (await client.HoldSeatsAsync(performance, "A-1-3")).HoldId,
        };
        await client.SetCapacityAsync("RESTAURANT", restaurant, "2026-12-01T19:00", 10);
        var capacity = await client.HoldCapacityAsync("RESTAURANT", restaurant, "2026-12-01T19:00", 3);

        await WaitForLiveHoldsAsync(live => live == 3);
        foreach (var hold in holds.Append(capacity.HoldId))
        {
            Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"/api/holds/{hold}")).StatusCode);
        }

        await WaitForLiveHoldsAsync(live => live == 0);
    }

    /// <summary>Reads the API's <c>booking.holds.live</c> gauge until it satisfies the condition.</summary>
    private Task<Dictionary<string, double>> WaitForLiveHoldsAsync(Func<long, bool> condition) =>
        Gauges.WaitForAsync(app.Service<IMeterFactory>(), name => name == LiveHolds,
            values => values.TryGetValue(LiveHolds, out var live) && condition((long)live),
            TimeSpan.FromSeconds(15),
            values => $"The live holds gauge stayed at {(values.TryGetValue(LiveHolds, out var live) ? live.ToString(CultureInfo.InvariantCulture) : "nothing")}.");
}
