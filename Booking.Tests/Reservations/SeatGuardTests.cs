using Booking.Api.Http;

namespace Booking.Tests.Reservations;

/// <summary>PostgreSQL as the final guard: a named seat is in at most one live reservation, whatever Redis says.</summary>
public sealed class SeatGuardTests(BookingApp app) : IClassFixture<BookingApp>
{
    [Fact]
    public async Task When_redis_lost_a_booked_seat_a_second_reservation_of_it_is_refused_by_postgresql()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        using var alice = app.Client($"alice-{Guid.NewGuid():N}");
        using var bob = app.Client($"bob-{Guid.NewGuid():N}");
        var first = await alice.ReserveAsync((await alice.HoldSeatsAsync(performance, "A-1-1", "A-1-2")).HoldId);

        // Redis loses its last writes: the seat looks free again.
        await app.Redis.HashSetAsync($"perf:{{{performance}}}:seats", "A-1-1", "A");
        var bobsHold = await bob.HoldSeatsAsync(performance, "A-1-1", "A-1-3");

        var refused = await (await bob.PostJsonAsync("/api/reservations", new { holdId = bobsHold.HoldId }))
            .AssertProblemAsync(HttpStatusCode.Conflict, ProblemCodes.SeatsUnavailable);
        Assert.Equal(["A-1-1"], refused.GetProperty("unavailableSeatIds").EnumerateArray().Select(e => e.GetString()));
        await using (var db = app.NewDbContext())
        {
            Assert.Equal(first.Id, (await db.ReservationSeats.SingleAsync(s => s.ResourceId == performance && s.SeatId == "A-1-1")).ReservationId);
            Assert.False(await db.Reservations.AnyAsync(r => r.HoldId == bobsHold.HoldId));
        }

        // When the first reservation fails, its seats leave the guard and can be reserved again.
        await using (var db = app.NewDbContext())
        {
            await db.Reservations.Where(r => r.Id == first.Id).ExecuteUpdateAsync(s => s.SetProperty(r => r.Status, ReservationStatus.Failed));
            Assert.False(await db.ReservationSeats.AnyAsync(s => s.ReservationId == first.Id));
        }

        var second = await bob.ReserveAsync(bobsHold.HoldId);
        await using var check = app.NewDbContext();
        Assert.Equal(["A-1-1", "A-1-3"], (await check.ReservationSeats.Where(s => s.ReservationId == second.Id).Select(s => s.SeatId).ToListAsync()).Order());
    }
}
