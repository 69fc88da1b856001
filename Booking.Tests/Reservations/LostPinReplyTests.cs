using Booking.Core.Lua;

namespace Booking.Tests.Reservations;

public sealed class LostPinReplyTests(LostRepliesApp app) : IClassFixture<LostRepliesApp>
{
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
