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

    /// <summary>Reads the API's <c>booking.holds.live</c> gauge until it satisfies the condition; returns its value.</summary>
    private async Task<long> WaitForLiveHoldsAsync(Func<long, bool> condition)
    {
        var factory = app.Service<IMeterFactory>();
        long? live = null;
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter.Scope, factory) && instrument.Name == "booking.holds.live")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => live = value);
        listener.Start();

        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            listener.RecordObservableInstruments();
            if (live is { } value && condition(value))
            {
                return value;
            }

            Assert.True(DateTime.UtcNow < deadline, $"The live holds gauge stayed at {live?.ToString(CultureInfo.InvariantCulture) ?? "nothing"}.");
            await Task.Delay(100);
        }
    }
}
