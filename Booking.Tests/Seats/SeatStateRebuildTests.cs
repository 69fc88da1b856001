using Booking.Api.Seats;
using Booking.Core.Holds;
using Booking.Core.Seats;

namespace Booking.Tests.Seats;

public sealed class SeatStateRebuildTests(BookingApp app) : IClassFixture<BookingApp>
{
    [Fact]
    public async Task Seat_state_redis_lost_is_rebuilt_without_freeing_any_reserved_seat()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 4));
        using var client = app.Client();
        var reserved = await client.HoldSeatsAsync(performance, "A-1-1", "A-1-2");
        await client.ReserveAsync(reserved.HoldId);
        var resource = ResourceRef.Performance(performance);

        await app.Redis.KeyDeleteAsync([resource.StateKey, resource.ExpiryKey, resource.HoldKey(reserved.HoldId)]);

        var map = await (await client.GetAsync($"/api/performances/{performance}/seats")).ReadAsync<SeatMapDto>(HttpStatusCode.OK);
        Assert.Equal(SeatStatus.Booked, map.Seats.Single(s => s.SeatId == "A-1-1").Status);
        Assert.Equal(SeatStatus.Booked, map.Seats.Single(s => s.SeatId == "A-1-2").Status);
        Assert.Equal(SeatStatus.Available, map.Seats.Single(s => s.SeatId == "A-1-3").Status);
        // Nobody can take a rebuilt booked seat.
        var taken = await client.PostJsonAsync($"/api/performances/{performance}/holds", new { seatIds = new[] { "A-1-2" } });
        Assert.Equal(HttpStatusCode.Conflict, taken.StatusCode);
    }
}
