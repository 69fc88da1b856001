using Booking.Core.Capacity;
using Booking.Core.Holds;

namespace Booking.Tests.Capacity;

/// <summary>The counted-capacity Lua scripts against a real redis-server.</summary>
public sealed class CapacityScriptsTests(Dependencies dependencies)
{
    private static readonly TimeSpan LongTtl = TimeSpan.FromMinutes(5);
    private readonly Engines _engines = new(dependencies.RedisConnection);

    private static ResourceRef NewSlot(BookingDomain domain = BookingDomain.Restaurant) =>
        new(domain, Guid.NewGuid().ToString("N"), "2026-12-01T19:00");

    /// <summary>A slot of 10 units with these holds held and confirmed.</summary>
    private async Task BookedAsync(ResourceRef slot, params (Guid HoldId, int Quantity)[] holds)
    {
        await _engines.Capacity.SetAsync(slot, 10, newSlot: true);
        foreach (var (holdId, quantity) in holds)
        {
            await _engines.Capacity.HoldAsync(slot, holdId, "alice", LongTtl, quantity);
            await _engines.Holds.ConfirmAsync(slot, holdId, Guid.NewGuid());
        }
    }

    [Fact]
    public async Task Hold_takes_the_quantity_or_nothing()
    {
        var slot = NewSlot();
        await _engines.Capacity.SetAsync(slot, 10, newSlot: true);

        Assert.Equal(HoldAttemptStatus.Held, (await _engines.Capacity.HoldAsync(slot, Guid.NewGuid(), "alice", LongTtl, 7)).Status);
        var refused = await _engines.Capacity.HoldAsync(slot, Guid.NewGuid(), "bob", LongTtl, 4);

        Assert.Equal(HoldAttemptStatus.Unavailable, refused.Status);
        Assert.Equal(3, refused.Available);
        Assert.Equal(new CapacityCounters(10, 7, 0), await _engines.Capacity.ReadAsync(slot));
    }

    [Fact]
    public async Task Confirm_moves_units_from_held_to_booked_once_and_unbook_returns_them()
    {
        var slot = NewSlot(BookingDomain.Exhibition);
        var holdId = Guid.NewGuid();
        await _engines.Capacity.SetAsync(slot, 10, newSlot: true);
        await _engines.Capacity.HoldAsync(slot, holdId, "alice", LongTtl, 3);

        Assert.Equal(ConfirmOutcome.Confirmed, await _engines.Holds.ConfirmAsync(slot, holdId, Guid.NewGuid()));
        Assert.Equal(ConfirmOutcome.AlreadyConfirmed, await _engines.Holds.ConfirmAsync(slot, holdId, Guid.NewGuid()));
        Assert.Equal(new CapacityCounters(10, 0, 3), await _engines.Capacity.ReadAsync(slot));

        Assert.True(await _engines.Holds.UnbookAsync(slot, holdId));
        Assert.True(await _engines.Holds.UnbookAsync(slot, holdId));
        Assert.Equal(new CapacityCounters(10, 0, 0), await _engines.Capacity.ReadAsync(slot));
    }

    [Fact]
    public async Task A_hold_released_or_confirmed_after_its_slot_state_went_leaves_no_counters_without_a_capacity()
    {
        var slot = NewSlot();
        var released = Guid.NewGuid();
        var confirmed = Guid.NewGuid();
        await _engines.Capacity.SetAsync(slot, 10, newSlot: true);
        await _engines.Capacity.HoldAsync(slot, released, "alice", LongTtl, 2);
        await _engines.Capacity.HoldAsync(slot, confirmed, "alice", LongTtl, 3);
        // The state alone is gone (deleted by hand, or evicted by a Redis run with an allkeys policy); the holds are not.
        await _engines.Redis.KeyDeleteAsync(slot.StateKey);

        Assert.Equal(ReleaseOutcome.Released, await _engines.Holds.ReleaseAsync(slot, released, "alice"));
        Assert.Equal(ConfirmOutcome.Confirmed, await _engines.Holds.ConfirmAsync(slot, confirmed, Guid.NewGuid()));

        // Not a state of counters alone, which no read could use and no load would replace: no state, so a load counts
        // the slot again.
        Assert.False(await _engines.Redis.KeyExistsAsync(slot.StateKey));
        Assert.Null(await _engines.Capacity.ReadAsync(slot));
        Assert.True(await _engines.Capacity.LoadAsync(slot, 10, []));
        Assert.Equal(new CapacityCounters(10, 0, 0), await _engines.Capacity.ReadAsync(slot));
    }

    [Fact]
    public async Task A_pinned_capacity_hold_keeps_its_units_past_its_ttl_until_the_saga_confirms_it()
    {
        var slot = NewSlot();
        var holdId = Guid.NewGuid();
        var reservationId = Guid.NewGuid();
        await _engines.Capacity.SetAsync(slot, 5, newSlot: true);
        // 3 s: the pin must come before it ends, on a machine busy with the rest of the suite.
        await _engines.Capacity.HoldAsync(slot, holdId, "alice", TimeSpan.FromSeconds(3), 4);

        Assert.Equal(PinOutcome.Pinned, await _engines.Holds.PinAsync(slot, holdId, "alice", reservationId, LongTtl));
        Assert.Equal(ReleaseOutcome.Reserved, await _engines.Holds.ReleaseAsync(slot, holdId, "alice"));
        await Task.Delay(TimeSpan.FromMilliseconds(3300));

        Assert.Equal(HoldAttemptStatus.Unavailable, (await _engines.Capacity.HoldAsync(slot, Guid.NewGuid(), "bob", LongTtl, 2)).Status);
        Assert.Equal(ConfirmOutcome.Confirmed, await _engines.Holds.ConfirmAsync(slot, holdId, reservationId));
        Assert.Equal(new CapacityCounters(5, 0, 4), await _engines.Capacity.ReadAsync(slot));
    }

    [Fact]
    public async Task A_confirmed_capacity_hold_whose_record_expired_gives_its_quantity_back_from_postgresqls_copy()
    {
        var slot = NewSlot();
        var holdId = Guid.NewGuid();
        await _engines.Capacity.SetAsync(slot, 10, newSlot: true);
        await _engines.Capacity.HoldAsync(slot, holdId, "alice", LongTtl, 4);
        await _engines.Holds.ConfirmAsync(slot, holdId, Guid.NewGuid());
        Assert.True((await _engines.Redis.KeyTimeToLiveAsync(slot.HoldKey(holdId))) > TimeSpan.FromDays(179));

        await _engines.Redis.KeyDeleteAsync(slot.HoldKey(holdId));
        // Not confirmed as far as the saga knows: nothing is taken off the counters.
        Assert.False(await _engines.Holds.UnbookAsync(slot, holdId, new KnownUnits([], 4, Confirmed: false)));
        Assert.Equal(new CapacityCounters(10, 0, 4), await _engines.Capacity.ReadAsync(slot));
        Assert.True(await _engines.Holds.UnbookAsync(slot, holdId, new KnownUnits([], 4, Confirmed: true)));
        Assert.Equal(new CapacityCounters(10, 0, 0), await _engines.Capacity.ReadAsync(slot));
        // The record made again to keep the compensation idempotent names no owner: it is nobody's hold to read.
        Assert.Equal("UNBOOKED", (string?)await _engines.Redis.HashGetAsync(slot.HoldKey(holdId), "state"));
        Assert.Null(await _engines.Holds.ReadAsync(slot, holdId));
    }

    [Fact]
    public async Task A_compensation_run_again_on_a_record_past_its_retention_takes_the_quantity_off_once()
    {
        var (slot, old) = (NewSlot(), Guid.NewGuid());
        await BookedAsync(slot, (old, 4), (Guid.NewGuid(), 3));

        await _engines.Redis.KeyDeleteAsync(slot.HoldKey(old));
        // The saga's step is retried (its success was not recorded): the other booking's units stay booked.
        Assert.True(await _engines.Holds.UnbookAsync(slot, old, new KnownUnits([], 4, Confirmed: true)));
        Assert.True(await _engines.Holds.UnbookAsync(slot, old, new KnownUnits([], 4, Confirmed: true)));
        Assert.Equal(new CapacityCounters(10, 0, 3), await _engines.Capacity.ReadAsync(slot));
    }

    [Fact]
    public async Task A_lost_confirm_is_booked_again_once_and_what_was_sold_meanwhile_is_reported()
    {
        var (slot, lost, expired) = (NewSlot(), Guid.NewGuid(), Guid.NewGuid());
        await BookedAsync(slot, (lost, 3), (expired, 2));

        // Redis forgets its last writes: one hold with its confirm (record and units gone), one confirm alone (the
        // hold then expired and the sweeper gave its units back).
        await _engines.Redis.KeyDeleteAsync(slot.HoldKey(lost));
        await _engines.Redis.HashSetAsync(slot.HoldKey(expired), "state", "EXPIRED");
        await _engines.Redis.HashIncrementAsync(slot.StateKey, "booked", -5);
        // Meanwhile 7 of the 10 units that looked free are held by someone else.
        await _engines.Capacity.HoldAsync(slot, Guid.NewGuid(), "bob", LongTtl, 7);

        Assert.Equal(0, await _engines.Holds.RepairCapacityAsync(slot, lost, Guid.NewGuid(), "alice", 3));
        Assert.Equal(2, await _engines.Holds.RepairCapacityAsync(slot, expired, Guid.NewGuid(), "alice", 2));
        Assert.Null(await _engines.Holds.RepairCapacityAsync(slot, lost, Guid.NewGuid(), "alice", 3));
        Assert.Equal(new CapacityCounters(10, 7, 5), await _engines.Capacity.ReadAsync(slot));
        Assert.Equal("BOOKED", (string?)await _engines.Redis.HashGetAsync(slot.HoldKey(lost), "state"));
        Assert.True((await _engines.Redis.KeyTimeToLiveAsync(slot.HoldKey(expired))) > TimeSpan.FromDays(179));
    }

    [Fact]
    public async Task Release_is_idempotent_and_only_for_the_owner()
    {
        var slot = NewSlot();
        var holdId = Guid.NewGuid();
        await _engines.Capacity.SetAsync(slot, 5, newSlot: true);
        await _engines.Capacity.HoldAsync(slot, holdId, "alice", LongTtl, 2);

        Assert.Equal(ReleaseOutcome.NotFound, await _engines.Holds.ReleaseAsync(slot, holdId, "bob"));
        Assert.Equal(ReleaseOutcome.Released, await _engines.Holds.ReleaseAsync(slot, holdId, "alice"));
        Assert.Equal(ReleaseOutcome.Released, await _engines.Holds.ReleaseAsync(slot, holdId, "alice"));
        Assert.Equal(new CapacityCounters(5, 0, 0), await _engines.Capacity.ReadAsync(slot));
    }

    [Fact]
    public async Task Expired_units_come_back_without_a_release_and_are_never_confirmed()
    {
        var slot = NewSlot();
        var holdId = Guid.NewGuid();
        await _engines.Capacity.SetAsync(slot, 4, newSlot: true);
        await _engines.Capacity.HoldAsync(slot, holdId, "alice", TimeSpan.FromMilliseconds(200), 4);

        await Task.Delay(TimeSpan.FromMilliseconds(350));

        Assert.Equal(new CapacityCounters(4, 0, 0), await _engines.Capacity.ReadAsync(slot));
        Assert.Equal(ConfirmOutcome.Expired, await _engines.Holds.ConfirmAsync(slot, holdId, Guid.NewGuid()));
        Assert.Equal(HoldAttemptStatus.Held, (await _engines.Capacity.HoldAsync(slot, Guid.NewGuid(), "bob", LongTtl, 4)).Status);
    }

    [Fact]
    public async Task Capacity_cannot_go_below_held_plus_booked()
    {
        var slot = NewSlot();
        var booked = Guid.NewGuid();
        await _engines.Capacity.SetAsync(slot, 10, newSlot: true);
        await _engines.Capacity.HoldAsync(slot, booked, "alice", LongTtl, 3);
        await _engines.Holds.ConfirmAsync(slot, booked, Guid.NewGuid());
        await _engines.Capacity.HoldAsync(slot, Guid.NewGuid(), "bob", LongTtl, 2);

        var (accepted, counters) = (await _engines.Capacity.SetAsync(slot, 4, newSlot: false))!.Value;
        Assert.False(accepted);
        Assert.Equal(new CapacityCounters(10, 2, 3), counters);

        Assert.True((await _engines.Capacity.SetAsync(slot, 5, newSlot: false))!.Value.Accepted);
        Assert.Equal(new CapacityCounters(5, 2, 3), await _engines.Capacity.ReadAsync(slot));
    }

    [Fact]
    public async Task Loading_counts_the_bookings_it_is_given_and_never_overwrites_live_state()
    {
        var slot = NewSlot();
        var booking = Guid.NewGuid();

        Assert.True(await _engines.Capacity.LoadAsync(slot, 10, [new CapacityBooking(booking, "alice", 4)]));
        Assert.False(await _engines.Capacity.LoadAsync(slot, 99, []));

        Assert.Equal(new CapacityCounters(10, 0, 4), await _engines.Capacity.ReadAsync(slot));
        // The rebuilt booking's record is kept as long as a confirmed one, not for ever.
        Assert.True(await _engines.Redis.KeyTimeToLiveAsync(slot.HoldKey(booking)) > TimeSpan.FromDays(179));
        Assert.True(await _engines.Holds.UnbookAsync(slot, booking));
        Assert.Equal(new CapacityCounters(10, 0, 0), await _engines.Capacity.ReadAsync(slot));
    }

    [Fact]
    public async Task A_slot_whose_counters_are_gone_gives_a_booking_back_in_its_record_only_and_its_next_load_leaves_it_out()
    {
        var slot = NewSlot();
        var (kept, cancelled) = (Guid.NewGuid(), Guid.NewGuid());
        await BookedAsync(slot, (kept, 3), (cancelled, 4));
        // Dropped while idle: counters and expiry go, booked holds' records stay.
        await _engines.Redis.KeyDeleteAsync([slot.StateKey, slot.ExpiryKey]);

        Assert.True(await _engines.Holds.UnbookAsync(slot, cancelled));
        Assert.False(await _engines.Redis.KeyExistsAsync(slot.StateKey));
        Assert.Equal(HoldState.Unbooked, (await _engines.Holds.ReadAsync(slot, cancelled))!.State);

        // PostgreSQL, read before the saga's last commit, still lists the cancelled booking.
        Assert.True(await _engines.Capacity.LoadAsync(slot, 10, [new CapacityBooking(kept, "alice", 3), new CapacityBooking(cancelled, "alice", 4)]));
        Assert.Equal(new CapacityCounters(10, 0, 3), await _engines.Capacity.ReadAsync(slot));
        Assert.Equal(HoldState.Unbooked, (await _engines.Holds.ReadAsync(slot, cancelled))!.State);
    }

    [Fact]
    public async Task Setting_the_capacity_of_an_existing_slot_whose_counters_are_gone_makes_none_from_nothing()
    {
        var slot = NewSlot();
        await BookedAsync(slot, (Guid.NewGuid(), 6));
        await _engines.Redis.KeyDeleteAsync([slot.StateKey, slot.ExpiryKey]);

        Assert.Null(await _engines.Capacity.SetAsync(slot, 5, newSlot: false));
        Assert.False(await _engines.Redis.KeyExistsAsync(slot.StateKey));
    }

    [Fact]
    public async Task Concurrent_holders_never_take_more_than_the_capacity()
    {
        var slot = NewSlot();
        await _engines.Capacity.SetAsync(slot, 50, newSlot: true);

        var attempts = await Task.WhenAll(Enumerable.Range(0, 200).Select(i =>
            _engines.Capacity.HoldAsync(slot, Guid.NewGuid(), $"user{i}", LongTtl, 1 + (i % 3))));

        var held = Enumerable.Range(0, 200).Where(i => attempts[i].Status == HoldAttemptStatus.Held).Sum(i => 1 + (i % 3));
        var counters = await _engines.Capacity.ReadAsync(slot);
        Assert.Equal(held, counters!.Held);
        Assert.InRange(held, 48, 50);
    }
}
