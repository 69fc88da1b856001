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
}
