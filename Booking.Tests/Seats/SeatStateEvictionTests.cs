using System.Text.Json;
using Booking.Tests.Faults;

namespace Booking.Tests.Seats;

/// <summary>The whole system on a Redis of its own, whose sweeper drops a resource's state (seats, a slot's counters) unused for 2 s.</summary>
public sealed class IdleStateApp(Dependencies dependencies) : OwnRedisSagaApp(dependencies)
{
    protected override IEnumerable<KeyValuePair<string, string?>> Settings =>
    [
        .. base.Settings,
        new("Booking:IdleStateLifetime", "00:00:02"),
        new("Booking:SweepInterval", "00:00:00.500"),
    ];
}

public sealed class SeatStateEvictionTests(IdleStateApp app) : IClassFixture<IdleStateApp>
{
    [Fact]
    public async Task An_unused_performances_seat_state_leaves_redis_and_comes_back_as_it_was_when_next_asked_for()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        var busy = await app.CreatePerformanceAsync(("A", 1, 5));
        using var client = app.Client();
        var booked = await client.ReserveAsync((await client.HoldSeatsAsync(performance, "A-1-1")).HoldId);
        Assert.Equal(ReservationStatus.Confirmed, (await app.WaitForFinalAsync(booked.Id)).Status);
        var released = await client.HoldSeatsAsync(performance, "A-1-2");
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"/api/holds/{released.HoldId}")).StatusCode);
        // A live hold keeps the other performance's state, however long it goes unused.
        await client.HoldSeatsAsync(busy, "A-1-3");

        var seats = $"perf:{{{performance}}}:seats";
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await app.Redis.KeyExistsAsync(seats))
        {
            Assert.True(DateTime.UtcNow < deadline, "The unused seat state is still in Redis after 30 s.");
            await Task.Delay(250);
        }

        Assert.True(await app.Redis.KeyExistsAsync($"perf:{{{busy}}}:seats"));

        // Asked for again, it is loaded as it was: the booking kept, every other seat free.
        var map = await (await client.GetAsync($"/api/performances/{performance}/seats")).ReadAsync<JsonElement>(HttpStatusCode.OK);
        var statuses = map.GetProperty("seats").EnumerateArray().ToDictionary(s => s.GetProperty("seatId").GetString()!, s => s.GetProperty("status").GetString());
        Assert.Equal("BOOKED", statuses["A-1-1"]);
        Assert.All(statuses.Where(s => s.Key != "A-1-1"), s => Assert.Equal("AVAILABLE", s.Value));
        await (await client.PostJsonAsync($"/api/performances/{performance}/holds", new { seatIds = new[] { "A-1-1" } }))
            .AssertProblemAsync(HttpStatusCode.Conflict, ProblemCodes.SeatsUnavailable);
        await client.HoldSeatsAsync(performance, "A-1-2");
    }
}
