using System.Diagnostics.Metrics;
using System.Globalization;
using Booking.Tests.Faults;

namespace Booking.Tests.Holds;

/// <summary>The registry of resources the hold sweeper visits keeps only resources whose state Redis holds.</summary>
public sealed class ResourceRegistryTests(OwnRedisApp app) : IClassFixture<OwnRedisApp>
{
    [Fact]
    public async Task A_resource_whose_state_is_gone_leaves_the_registry_and_joins_again_when_loaded_again()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 4));
        using var client = app.Client();
        await client.HoldSeatsAsync(performance, "A-1-1");
        var member = $"PERFORMANCE|{performance}";
        Assert.True(await app.Redis.SetContainsAsync("booking:resources", member));

        await app.Redis.KeyDeleteAsync($"perf:{{{performance}}}:seats");
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (await app.Redis.SetContainsAsync("booking:resources", member))
        {
            Assert.True(DateTime.UtcNow < deadline, "The registry still lists a resource whose state is gone.");
            await Task.Delay(100);
        }

        await client.HoldSeatsAsync(performance, "A-1-2");
        Assert.True(await app.Redis.SetContainsAsync("booking:resources", member));
    }

    [Fact]
    public async Task A_member_stored_before_the_domain_had_one_spelling_is_stored_again_in_it()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 4));
        using var client = app.Client();
        await client.HoldSeatsAsync(performance, "A-1-1");
        var (old, current) = ($"Performance|{performance}", $"PERFORMANCE|{performance}");
        await app.Redis.SetRemoveAsync("booking:resources", current);
        await app.Redis.SetAddAsync("booking:resources", old);

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (await app.Redis.SetContainsAsync("booking:resources", old) || !await app.Redis.SetContainsAsync("booking:resources", current))
        {
            Assert.True(DateTime.UtcNow < deadline, "The sweep did not store the old spelling again in the one spelling.");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task The_live_holds_gauge_counts_the_holds_on_every_registered_resource_as_of_the_last_sweep()
    {
        var (performance, restaurant) = (await app.CreatePerformanceAsync(("A", 1, 4)), $"bistro-{Guid.NewGuid():N}");
        using var client = app.Client();
        var baseline = await WaitForLiveHoldsAsync(_ => true);
        var holds = new[]
        {
            (await client.HoldSeatsAsync(performance, "A-1-1", "A-1-2")).HoldId,
            (await client.HoldSeatsAsync(performance, "A-1-3")).HoldId,
        };
        await client.SetCapacityAsync("RESTAURANT", restaurant, "2026-12-01T19:00", 10);
        var capacity = await client.HoldCapacityAsync("RESTAURANT", restaurant, "2026-12-01T19:00", 3);

        await WaitForLiveHoldsAsync(live => live == baseline + 3);
        foreach (var hold in holds.Append(capacity.HoldId))
        {
            Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"/api/holds/{hold}")).StatusCode);
        }

        await WaitForLiveHoldsAsync(live => live == baseline);
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
