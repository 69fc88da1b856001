using Booking.Api.Capacity;
using Booking.Core.Holds;
using Booking.Tests.Seats;

namespace Booking.Tests.Capacity;

public sealed class CapacityStateEvictionTests(IdleStateApp app) : IClassFixture<IdleStateApp>
{
    [Fact]
    public async Task An_unused_slots_counters_leave_redis_and_come_back_from_postgresql_without_a_booking_cancelled_meanwhile()
    {
        var resource = $"gallery-{Guid.NewGuid():N}"[..20];
        const string Day = "2026-12-01", BusyDay = "2026-12-02";
        using var client = app.Client();
        await client.SetCapacityAsync("EXHIBITION", resource, Day, 10);
        await client.SetCapacityAsync("EXHIBITION", resource, BusyDay, 10);
        var kept = await client.ReserveAsync((await client.HoldCapacityAsync("EXHIBITION", resource, Day, 3)).HoldId);
        var cancelled = await client.ReserveAsync((await client.HoldCapacityAsync("EXHIBITION", resource, Day, 4)).HoldId);
        Assert.Equal(ReservationStatus.Confirmed, (await app.WaitForFinalAsync(kept.Id)).Status);
        Assert.Equal(ReservationStatus.Confirmed, (await app.WaitForFinalAsync(cancelled.Id)).Status);
        var released = await client.HoldCapacityAsync("EXHIBITION", resource, Day, 2);
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"/api/holds/{released.HoldId}")).StatusCode);
        // A live hold keeps the other slot's counters, however long they go unused.
        await client.HoldCapacityAsync("EXHIBITION", resource, BusyDay, 1);

        var slot = new ResourceRef(BookingDomain.Exhibition, resource, Day);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await app.Redis.KeyExistsAsync(slot.StateKey))
        {
            Assert.True(DateTime.UtcNow < deadline, "The unused slot's counters are still in Redis after 30 s.");
            await Task.Delay(250);
        }

        Assert.True(await app.Redis.KeyExistsAsync(new ResourceRef(BookingDomain.Exhibition, resource, BusyDay).StateKey));

        // Cancelled while its slot's counters are out of Redis: the compensation marks the hold's record and makes no
        // counters of its own.
        (await client.PostAsync($"/api/reservations/{cancelled.Id}/cancel", null)).EnsureSuccessStatusCode();
        Assert.Equal(ReservationStatus.Cancelled, (await app.WaitForFinalAsync(cancelled.Id)).Status);
        Assert.False(await app.Redis.KeyExistsAsync(slot.StateKey));

        // Asked for again, the slot is counted from PostgreSQL: the kept booking only.
        var counters = await (await client.GetAsync($"/api/capacity/EXHIBITION/{resource}/{Day}")).ReadAsync<CapacityDto>(HttpStatusCode.OK);
        Assert.Equal((10, 0, 3, 7), (counters.Capacity, counters.Held, counters.Booked, counters.Available));
        await client.HoldCapacityAsync("EXHIBITION", resource, Day, 7);
        await (await client.PostJsonAsync($"/api/capacity/EXHIBITION/{resource}/{Day}/holds", new { quantity = 1 }))
            .AssertProblemAsync(HttpStatusCode.Conflict, ProblemCodes.CapacityUnavailable);
    }

    [Fact]
    public async Task A_capacity_change_of_a_slot_whose_counters_left_redis_keeps_its_bookings()
    {
        var resource = $"gallery-{Guid.NewGuid():N}"[..20];
        const string Day = "2026-12-03";
        using var client = app.Client();
        await client.SetCapacityAsync("EXHIBITION", resource, Day, 10);
        var booking = await client.ReserveAsync((await client.HoldCapacityAsync("EXHIBITION", resource, Day, 6)).HoldId);
        Assert.Equal(ReservationStatus.Confirmed, (await app.WaitForFinalAsync(booking.Id)).Status);
        var slot = new ResourceRef(BookingDomain.Exhibition, resource, Day);
        await app.Redis.KeyDeleteAsync([slot.StateKey, slot.ExpiryKey]);

        using var lower = new HttpRequestMessage(HttpMethod.Put, $"/api/capacity/EXHIBITION/{resource}/{Day}")
        {
            Content = System.Net.Http.Json.JsonContent.Create(new { capacity = 5 }),
        };
        lower.Headers.Authorization = TestTokens.Admin;
        await (await client.SendAsync(lower)).AssertProblemAsync(HttpStatusCode.Conflict, ProblemCodes.InvalidState);

        await client.SetCapacityAsync("EXHIBITION", resource, Day, 8);
        var counters = await (await client.GetAsync($"/api/capacity/EXHIBITION/{resource}/{Day}")).ReadAsync<CapacityDto>(HttpStatusCode.OK);
        Assert.Equal((8, 6), (counters.Capacity, counters.Booked));
    }
}
