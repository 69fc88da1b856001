using Booking.Api.Http;
using Booking.Core.Holds;
using Booking.Core.Seats;

namespace Booking.Tests.Seats;

/// <summary>The API configured with the "before" design the benchmark compares against.</summary>
public sealed class NaiveHoldApp(Dependencies dependencies) : BookingApp(dependencies)
{
    protected override IEnumerable<KeyValuePair<string, string?>> Settings => [new("Booking:HoldStrategy", "naive")];
}

public sealed class NaiveHoldStrategyTests(NaiveHoldApp app) : IClassFixture<NaiveHoldApp>
{
    [Fact]
    public void The_strategy_is_chosen_once_at_start_up_from_the_setting()
    {
        Assert.IsType<Booking.Api.Holds.NaiveSeatHolder>(app.Service<Booking.Api.Holds.ISeatHolder>());
    }

    [Fact]
    public async Task Naive_holds_are_all_or_nothing_and_leave_the_same_state_the_lua_scripts_use()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        using var alice = app.Client("alice");
        using var bob = app.Client("bob");
        var hold = await alice.HoldSeatsAsync(performance, "A-1-1", "A-1-2");

        var problem = await (await bob.PostJsonAsync($"/api/performances/{performance}/holds", new { seatIds = new[] { "A-1-2", "A-1-3" } }))
            .AssertProblemAsync(HttpStatusCode.Conflict, ProblemCodes.SeatsUnavailable);

        Assert.Equal(["A-1-2"], problem.GetProperty("unavailableSeatIds").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("A", (string?)await app.Redis.HashGetAsync($"perf:{{{performance}}}:seats", "A-1-3"));
        Assert.Equal($"H:{hold.HoldId:D}", (string?)await app.Redis.HashGetAsync($"perf:{{{performance}}}:seats", "A-1-1"));
        // The Lua confirm script books a naive hold like any other, and no per-seat lock is left behind.
        Assert.Equal(ConfirmOutcome.Confirmed, await app.Service<HoldEngine>().ConfirmAsync(ResourceRef.Performance(performance), hold.HoldId, Guid.NewGuid()));
        Assert.Equal(SeatStatus.Booked, (await app.Service<SeatEngine>().ReadAsync(performance))!["A-1-2"]);
        Assert.False(await app.Redis.KeyExistsAsync($"perf:{{{performance}}}:lock:A-1-1"));
    }

    [Fact]
    public async Task Concurrent_naive_holders_never_hold_a_seat_twice()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 10));
        var seats = Enumerable.Range(1, 10).Select(n => $"A-1-{n}").ToArray();
        var random = new Random(3);
        var picks = Enumerable.Range(0, 60).Select(_ => seats.OrderBy(_ => random.Next()).Take(random.Next(1, 4)).ToArray()).ToList();

        var results = await Task.WhenAll(picks.Select(async (pick, i) =>
        {
            using var client = app.Client($"naive-{i}");
            var response = await client.PostJsonAsync($"/api/performances/{performance}/holds", new { seatIds = pick });
            return (pick, response.StatusCode);
        }));

        var held = results.Where(r => r.StatusCode == HttpStatusCode.Created).SelectMany(r => r.pick).ToList();
        Assert.Equal(held.Count, held.Distinct().Count());
        Assert.All(results, r => Assert.Contains(r.StatusCode, new[] { HttpStatusCode.Created, HttpStatusCode.Conflict }));
        var state = await app.Redis.HashGetAllAsync($"perf:{{{performance}}}:seats");
        Assert.Equal(held.Count, state.Count(e => e.Value.ToString().StartsWith("H:", StringComparison.Ordinal)));
    }
}
