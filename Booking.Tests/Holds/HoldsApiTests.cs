using Booking.Api.Holds;
using Booking.Api.Http;
using Booking.Core.Holds;

namespace Booking.Tests.Holds;

public sealed class HoldsApiTests(BookingApp app) : IClassFixture<BookingApp>
{
    [Fact]
    public async Task Delete_releases_the_seats_and_is_idempotent()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 3));
        using var client = app.Client();
        var hold = await client.HoldSeatsAsync(performance, "A-1-1", "A-1-2");

        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"/api/holds/{hold.HoldId}")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"/api/holds/{hold.HoldId}")).StatusCode);

        Assert.Equal("A", (string?)await app.Redis.HashGetAsync($"perf:{{{performance}}}:seats", "A-1-1"));
        Assert.Equal("A", (string?)await app.Redis.HashGetAsync($"perf:{{{performance}}}:seats", "A-1-2"));
    }

    [Fact]
    public async Task Delete_of_a_capacity_hold_gives_the_units_back()
    {
        var resource = $"gallery-{Guid.NewGuid():N}"[..20];
        using var client = app.Client();
        await client.SetCapacityAsync("EXHIBITION", resource, "2026-12-01", 10);
        var hold = await client.HoldCapacityAsync("EXHIBITION", resource, "2026-12-01", 4);

        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"/api/holds/{hold.HoldId}")).StatusCode);

        var slot = new ResourceRef(BookingDomain.Exhibition, resource, "2026-12-01");
        Assert.Equal("0", (string?)await app.Redis.HashGetAsync(slot.StateKey, "held"));
    }

    [Fact]
    public async Task Another_users_hold_or_an_unknown_hold_is_404_and_stays_held()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 3));
        using var alice = app.Client("alice");
        using var bob = app.Client("bob");
        var hold = await alice.HoldSeatsAsync(performance, "A-1-3");

        await (await bob.DeleteAsync($"/api/holds/{hold.HoldId}")).AssertProblemAsync(HttpStatusCode.NotFound, ProblemCodes.NotFound);
        await (await bob.DeleteAsync($"/api/holds/{Guid.NewGuid()}")).AssertProblemAsync(HttpStatusCode.NotFound, ProblemCodes.NotFound);

        Assert.Equal($"H:{hold.HoldId:D}", (string?)await app.Redis.HashGetAsync($"perf:{{{performance}}}:seats", "A-1-3"));
    }

    [Fact]
    public async Task A_hold_whose_record_is_gone_is_404_though_its_index_entry_outlives_it()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 3));
        using var client = app.Client();
        var hold = await client.HoldSeatsAsync(performance, "A-1-1");
        await app.Redis.KeyDeleteAsync(ResourceRef.Performance(performance).HoldKey(hold.HoldId));

        Assert.True(await app.Redis.KeyExistsAsync(HoldEngine.IndexKey(hold.HoldId)));
        await (await client.DeleteAsync($"/api/holds/{hold.HoldId}")).AssertProblemAsync(HttpStatusCode.NotFound, ProblemCodes.NotFound);
    }

    [Fact]
    public async Task A_booked_hold_cannot_be_deleted()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 3));
        using var client = app.Client();
        var hold = await client.HoldSeatsAsync(performance, "A-1-2");
        await app.Service<HoldEngine>().ConfirmAsync(ResourceRef.Performance(performance), hold.HoldId, Guid.NewGuid());

        await (await client.DeleteAsync($"/api/holds/{hold.HoldId}")).AssertProblemAsync(HttpStatusCode.Conflict, ProblemCodes.InvalidState);
        Assert.Equal($"B:{hold.HoldId:D}", (string?)await app.Redis.HashGetAsync($"perf:{{{performance}}}:seats", "A-1-2"));
    }

    [Fact]
    public async Task Get_tells_the_owner_what_a_seat_hold_holds_until_it_is_reserved_and_booked()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 3));
        using var client = app.Client();
        var hold = await client.HoldSeatsAsync(performance, "A-1-1", "A-1-3");

        var held = await GetHoldAsync(client, hold.HoldId);
        Assert.Equal((HoldStatus.Held, BookingDomain.Performance, performance, null, 2), (held.Status, held.Domain, held.ResourceId, held.Slot, held.Quantity));
        Assert.Equal(["A-1-1", "A-1-3"], held.SeatIds);
        Assert.Equal(hold.ExpiresAt, held.ExpiresAt);
        Assert.Null(held.ReservationId);

        // Pinned by the reservation, the hold outlives its own expiry in Redis; the owner still sees when it would have run out.
        var reservation = await client.ReserveAsync(hold.HoldId);
        var reserved = await GetHoldAsync(client, hold.HoldId);
        Assert.Equal((HoldStatus.Reserved, reservation.Id, hold.ExpiresAt), (reserved.Status, reserved.ReservationId, reserved.ExpiresAt));

        await app.Service<HoldEngine>().ConfirmAsync(ResourceRef.Performance(performance), hold.HoldId, reservation.Id);
        var booked = await GetHoldAsync(client, hold.HoldId);
        Assert.Equal((HoldStatus.Booked, reservation.Id), (booked.Status, booked.ReservationId));
    }

    [Fact]
    public async Task Get_of_a_capacity_hold_shows_its_slot_and_quantity_and_then_its_release_to_its_owner_only()
    {
        var resource = $"gallery-{Guid.NewGuid():N}"[..20];
        using var alice = app.Client("alice");
        using var bob = app.Client("bob");
        await alice.SetCapacityAsync("EXHIBITION", resource, "2026-12-01", 10);
        var hold = await alice.HoldCapacityAsync("EXHIBITION", resource, "2026-12-01", 4);

        var held = await GetHoldAsync(alice, hold.HoldId);
        Assert.Equal((HoldStatus.Held, BookingDomain.Exhibition, resource, "2026-12-01", 4), (held.Status, held.Domain, held.ResourceId, held.Slot, held.Quantity));
        Assert.Empty(held.SeatIds);
        await (await bob.GetAsync($"/api/holds/{hold.HoldId}")).AssertProblemAsync(HttpStatusCode.NotFound, ProblemCodes.NotFound);
        await (await alice.GetAsync($"/api/holds/{Guid.NewGuid()}")).AssertProblemAsync(HttpStatusCode.NotFound, ProblemCodes.NotFound);

        Assert.Equal(HttpStatusCode.NoContent, (await alice.DeleteAsync($"/api/holds/{hold.HoldId}")).StatusCode);
        Assert.Equal(HoldStatus.Released, (await GetHoldAsync(alice, hold.HoldId)).Status);
    }

    [Fact]
    public async Task Get_of_a_hold_whose_time_ran_out_says_expired_before_any_script_has_expired_it()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 3));
        using var client = app.Client();
        var hold = await client.HoldSeatsAsync(performance, "A-1-2");
        var past = DateTimeOffset.UtcNow.AddMinutes(-1);
        await app.Redis.HashSetAsync(ResourceRef.Performance(performance).HoldKey(hold.HoldId), "expiresAt", past.ToUnixTimeMilliseconds());

        var expired = await GetHoldAsync(client, hold.HoldId);
        Assert.Equal((HoldStatus.Expired, past.ToUnixTimeMilliseconds()), (expired.Status, expired.ExpiresAt!.Value.ToUnixTimeMilliseconds()));
    }

    private static async Task<HoldDto> GetHoldAsync(HttpClient client, Guid holdId) =>
        await (await client.GetAsync($"/api/holds/{holdId}")).ReadAsync<HoldDto>(HttpStatusCode.OK);
}
