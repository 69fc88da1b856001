using Booking.Api.Holds;
using Booking.Api.Http;
using Booking.Core.Holds;
using Booking.Core.Lua;

namespace Booking.Tests.Holds;

/// <summary>Redis takes a hold, or pins one to its reservation, and its answer is lost on the way back.</summary>
public sealed class LostRedisReplyTests(LostRepliesApp app) : IClassFixture<LostRepliesApp>
{
    [Fact]
    public async Task A_hold_redis_took_but_whose_answer_was_lost_is_given_back_so_the_callers_retry_gets_its_seats()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 3));
        using var client = app.Client($"lost-hold-{Guid.NewGuid():N}");
        var body = new { seatIds = new[] { "A-1-1", "A-1-2" } };
        // The seats in Redis already, so the first hold is taken at its first try.
        (await client.GetAsync($"/api/performances/{performance}/seats")).EnsureSuccessStatusCode();
        app.Replies.LoseNext(app.Service<LuaRunner>().Scripts.HoldSeats.Sha1);

        await (await client.PostJsonAsync($"/api/performances/{performance}/holds", body)).AssertProblemAsync(HttpStatusCode.ServiceUnavailable, ProblemCodes.DependencyUnavailable);

        // The hold nobody was told of is given back in the background; a retry a moment later gets the seats.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        HttpResponseMessage retry;
        while (true)
        {
            await Task.Delay(100);
            retry = await client.PostJsonAsync($"/api/performances/{performance}/holds", body);
            if (retry.StatusCode != HttpStatusCode.Conflict || DateTime.UtcNow > deadline)
            {
                break;
            }

            retry.Dispose();
        }

        using (retry)
        {
            var hold = await retry.ReadAsync<SeatHoldDto>(HttpStatusCode.Created);
            var seats = ResourceRef.Performance(performance).StateKey;
            Assert.Equal($"H:{hold.HoldId:D}", (string?)await app.Redis.HashGetAsync(seats, "A-1-1"));
            Assert.Equal($"H:{hold.HoldId:D}", (string?)await app.Redis.HashGetAsync(seats, "A-1-2"));
        }
    }

    [Fact]
    public async Task A_pin_redis_made_but_whose_answer_was_lost_is_undone_so_the_callers_retry_makes_the_reservation()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 3));
        using var client = app.Client($"lost-pin-{Guid.NewGuid():N}");
        var hold = await client.HoldSeatsAsync(performance, "A-1-1");

        app.Replies.LoseNext(app.Service<LuaRunner>().Scripts.PinHold.Sha1);
        using var lost = await client.PostJsonAsync("/api/reservations", new { holdId = hold.HoldId });
        await lost.AssertProblemAsync(HttpStatusCode.ServiceUnavailable, ProblemCodes.DependencyUnavailable);

        // Without the undo, the hold stays pinned to a reservation never stored: 409 HOLD_ALREADY_USED for an hour.
        var reservation = await client.ReserveAsync(hold.HoldId);
        Assert.Equal(["A-1-1"], reservation.SeatIds);
    }
}
