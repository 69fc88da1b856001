using Booking.Core.Holds;
using Booking.Core.Seats;

namespace Booking.Tests.Holds;

/// <summary>The seat Lua scripts against a real redis-server.</summary>
public sealed class SeatScriptsTests(Dependencies dependencies)
{
    private static readonly TimeSpan LongTtl = TimeSpan.FromMinutes(5);
    private readonly Engines _engines = new(dependencies.RedisConnection);

    [Fact]
    public async Task Hold_takes_every_seat_in_one_call()
    {
        var (performance, _) = await _engines.NewPerformanceAsync();
        var holdId = Guid.NewGuid();

        var attempt = await _engines.Seats.HoldAsync(performance, holdId, "alice", LongTtl, ["A-1-1", "A-1-2", "B-2-10"]);

        Assert.Equal(HoldAttemptStatus.Held, attempt.Status);
        var map = await _engines.MapAsync(performance);
        Assert.Equal(SeatStatus.Held, map["A-1-1"]);
        Assert.Equal(SeatStatus.Held, map["A-1-2"]);
        Assert.Equal(SeatStatus.Held, map["B-2-10"]);
        Assert.Equal(37, map.Values.Count(s => s == SeatStatus.Available));
        var hold = await _engines.Holds.FindAsync(holdId);
        Assert.NotNull(hold);
        Assert.Equal(HoldState.Held, hold.State);
        Assert.Equal(["A-1-1", "A-1-2", "B-2-10"], hold.SeatIds);
        Assert.Equal("alice", hold.UserId);
    }

    [Fact]
    public async Task Hold_fails_whole_when_one_seat_is_taken()
    {
        var (performance, _) = await _engines.NewPerformanceAsync();
        await _engines.Seats.HoldAsync(performance, Guid.NewGuid(), "alice", LongTtl, ["A-1-3"]);

        var attempt = await _engines.Seats.HoldAsync(performance, Guid.NewGuid(), "bob", LongTtl, ["A-1-1", "A-1-2", "A-1-3"]);

        Assert.Equal(HoldAttemptStatus.Unavailable, attempt.Status);
        Assert.Equal(["A-1-3"], attempt.Conflicting);
        var map = await _engines.MapAsync(performance);
        Assert.Equal(SeatStatus.Available, map["A-1-1"]);
        Assert.Equal(SeatStatus.Available, map["A-1-2"]);
    }

    [Fact]
    public async Task Hold_with_an_unknown_seat_changes_nothing()
    {
        var (performance, _) = await _engines.NewPerformanceAsync();

        var attempt = await _engines.Seats.HoldAsync(performance, Guid.NewGuid(), "alice", LongTtl, ["A-1-1", "Z-9-9"]);

        Assert.Equal(HoldAttemptStatus.UnknownSeats, attempt.Status);
        Assert.Equal(["Z-9-9"], attempt.Conflicting);
        Assert.Equal(SeatStatus.Available, (await _engines.MapAsync(performance))["A-1-1"]);
        Assert.False(await _engines.Redis.KeyExistsAsync($"perf:{{{performance}}}:seats") is false);
    }

    [Fact]
    public async Task Hold_on_a_performance_not_in_redis_reports_not_loaded()
    {
        var attempt = await _engines.Seats.HoldAsync(Guid.NewGuid().ToString("N"), Guid.NewGuid(), "alice", LongTtl, ["A-1-1"]);

        Assert.Equal(HoldAttemptStatus.NotLoaded, attempt.Status);
    }

    [Fact]
    public async Task Retrying_a_hold_with_the_same_id_is_the_same_hold()
    {
        var (performance, _) = await _engines.NewPerformanceAsync();
        var holdId = Guid.NewGuid();

        var first = await _engines.Seats.HoldAsync(performance, holdId, "alice", LongTtl, ["A-1-1"]);
        var again = await _engines.Seats.HoldAsync(performance, holdId, "alice", LongTtl, ["A-1-1"]);

        Assert.Equal(HoldAttemptStatus.Held, again.Status);
        Assert.Equal(first.ExpiresAt, again.ExpiresAt);
    }

    [Fact]
    public async Task Release_frees_the_seats_and_is_idempotent()
    {
        var (performance, _) = await _engines.NewPerformanceAsync();
        var holdId = Guid.NewGuid();
        var resource = ResourceRef.Performance(performance);
        await _engines.Seats.HoldAsync(performance, holdId, "alice", LongTtl, ["A-1-1", "A-1-2"]);

        Assert.Equal(ReleaseOutcome.NotFound, await _engines.Holds.ReleaseAsync(resource, holdId, "mallory"));
        Assert.Equal(ReleaseOutcome.Released, await _engines.Holds.ReleaseAsync(resource, holdId, "alice"));
        Assert.Equal(ReleaseOutcome.Released, await _engines.Holds.ReleaseAsync(resource, holdId, "alice"));

        var map = await _engines.MapAsync(performance);
        Assert.Equal(SeatStatus.Available, map["A-1-1"]);
        Assert.Equal(SeatStatus.Available, map["A-1-2"]);
        Assert.Equal(HoldState.Released, (await _engines.Holds.FindAsync(holdId))!.State);
    }

    [Fact]
    public async Task Confirm_books_the_seats_once_and_a_booked_hold_cannot_be_released()
    {
        var (performance, _) = await _engines.NewPerformanceAsync();
        var holdId = Guid.NewGuid();
        var resource = ResourceRef.Performance(performance);
        await _engines.Seats.HoldAsync(performance, holdId, "alice", LongTtl, ["A-2-1", "A-2-2"]);

        Assert.Equal(ConfirmOutcome.Confirmed, await _engines.Holds.ConfirmAsync(resource, holdId, Guid.NewGuid()));
        Assert.Equal(ConfirmOutcome.AlreadyConfirmed, await _engines.Holds.ConfirmAsync(resource, holdId, Guid.NewGuid()));
        Assert.Equal(ReleaseOutcome.Booked, await _engines.Holds.ReleaseAsync(resource, holdId, "alice"));

        var map = await _engines.MapAsync(performance);
        Assert.Equal(SeatStatus.Booked, map["A-2-1"]);
        Assert.Equal(SeatStatus.Booked, map["A-2-2"]);
        Assert.Equal(0, await _engines.Redis.SortedSetLengthAsync(resource.ExpiryKey));
    }

    [Fact]
    public async Task A_pinned_hold_outlives_its_ttl_cannot_be_released_and_is_confirmed_late()
    {
        var (performance, _) = await _engines.NewPerformanceAsync();
        var holdId = Guid.NewGuid();
        var reservationId = Guid.NewGuid();
        var resource = ResourceRef.Performance(performance);
        // 3 s: the pins below must come before it ends, on a machine busy with the rest of the suite.
        await _engines.Seats.HoldAsync(performance, holdId, "alice", TimeSpan.FromSeconds(3), ["A-1-1", "A-1-2"]);

        Assert.Equal(PinOutcome.NotFound, await _engines.Holds.PinAsync(resource, holdId, "mallory", reservationId, LongTtl));
        Assert.Equal(PinOutcome.Pinned, await _engines.Holds.PinAsync(resource, holdId, "alice", reservationId, LongTtl));
        Assert.Equal(PinOutcome.Pinned, await _engines.Holds.PinAsync(resource, holdId, "alice", reservationId, LongTtl));
        Assert.Equal(PinOutcome.Used, await _engines.Holds.PinAsync(resource, holdId, "alice", Guid.NewGuid(), LongTtl));
        Assert.Equal(ReleaseOutcome.Reserved, await _engines.Holds.ReleaseAsync(resource, holdId, "alice"));

        await Task.Delay(TimeSpan.FromMilliseconds(3300));

        // Past the hold's own TTL: nobody else can take its seats, a sweep leaves it, and the saga still confirms it.
        Assert.Equal(HoldAttemptStatus.Unavailable, (await _engines.Seats.HoldAsync(performance, Guid.NewGuid(), "bob", LongTtl, ["A-1-1"])).Status);
        Assert.Equal(0, await _engines.Holds.SweepAsync(resource, 100));
        Assert.Equal(ConfirmOutcome.Confirmed, await _engines.Holds.ConfirmAsync(resource, holdId, reservationId));
        Assert.Equal(SeatStatus.Booked, (await _engines.MapAsync(performance))["A-1-2"]);
    }

    [Fact]
    public async Task Pinning_refuses_an_expired_hold_and_unpinning_gives_the_hold_its_own_expiry_back()
    {
        var (performance, _) = await _engines.NewPerformanceAsync();
        var resource = ResourceRef.Performance(performance);
        var expired = Guid.NewGuid();
        await _engines.Seats.HoldAsync(performance, expired, "alice", TimeSpan.FromMilliseconds(100), ["A-1-1"]);
        var kept = Guid.NewGuid();
        var reservationId = Guid.NewGuid();
        // Wide margins: the suite runs these beside floods of requests, and a late call must not read as a wrong answer.
        await _engines.Seats.HoldAsync(performance, kept, "alice", TimeSpan.FromSeconds(10), ["A-1-2"]);

        await Task.Delay(TimeSpan.FromMilliseconds(500));

        Assert.Equal(PinOutcome.Expired, await _engines.Holds.PinAsync(resource, expired, "alice", Guid.NewGuid(), LongTtl));
        Assert.Equal(PinOutcome.Pinned, await _engines.Holds.PinAsync(resource, kept, "alice", reservationId, LongTtl));
        await _engines.Holds.UnpinAsync(resource, kept, reservationId);
        Assert.Equal(ReleaseOutcome.Released, await _engines.Holds.ReleaseAsync(resource, kept, "alice"));

        // Unpinned, a hold expires at its own time again.
        var again = Guid.NewGuid();
        var repinned = Guid.NewGuid();
        await _engines.Seats.HoldAsync(performance, again, "alice", TimeSpan.FromSeconds(3), ["A-1-3"]);
        Assert.Equal(PinOutcome.Pinned, await _engines.Holds.PinAsync(resource, again, "alice", repinned, LongTtl));
        await _engines.Holds.UnpinAsync(resource, again, repinned);
        await Task.Delay(TimeSpan.FromMilliseconds(3300));
        Assert.Equal(1, await _engines.Holds.SweepAsync(resource, 100));
        Assert.Equal(SeatStatus.Available, (await _engines.MapAsync(performance))["A-1-3"]);
    }

    [Fact]
    public async Task A_booked_hold_record_expires_and_a_later_unbook_frees_the_seats_postgresql_lists()
    {
        var (performance, _) = await _engines.NewPerformanceAsync();
        var holdId = Guid.NewGuid();
        var resource = ResourceRef.Performance(performance);
        await _engines.Seats.HoldAsync(performance, holdId, "alice", LongTtl, ["B-2-1", "B-2-2"]);
        await _engines.Holds.ConfirmAsync(resource, holdId, Guid.NewGuid());

        var ttl = await _engines.Redis.KeyTimeToLiveAsync(resource.HoldKey(holdId));
        Assert.InRange(ttl!.Value, TimeSpan.FromDays(179), TimeSpan.FromDays(180));

        // The record's retention ran out; a cancel comes later.
        await _engines.Redis.KeyDeleteAsync(resource.HoldKey(holdId));
        Assert.False(await _engines.Holds.UnbookAsync(resource, holdId));
        Assert.True(await _engines.Holds.UnbookAsync(resource, holdId, new KnownUnits(["B-2-1", "B-2-2"], 2, Confirmed: true)));
        var map = await _engines.MapAsync(performance);
        Assert.Equal(SeatStatus.Available, map["B-2-1"]);
        Assert.Equal(SeatStatus.Available, map["B-2-2"]);
    }

    [Fact]
    public async Task Unbook_returns_booked_seats_and_is_idempotent()
    {
        var (performance, _) = await _engines.NewPerformanceAsync();
        var holdId = Guid.NewGuid();
        var resource = ResourceRef.Performance(performance);
        await _engines.Seats.HoldAsync(performance, holdId, "alice", LongTtl, ["B-1-1"]);
        await _engines.Holds.ConfirmAsync(resource, holdId, Guid.NewGuid());

        Assert.True(await _engines.Holds.UnbookAsync(resource, holdId));
        Assert.True(await _engines.Holds.UnbookAsync(resource, holdId));

        Assert.Equal(SeatStatus.Available, (await _engines.MapAsync(performance))["B-1-1"]);
        Assert.Equal(HoldState.Unbooked, (await _engines.Holds.FindAsync(holdId))!.State);
        // Someone else can now hold it, and unbooking the old hold again must not free the new one.
        var next = Guid.NewGuid();
        Assert.Equal(HoldAttemptStatus.Held, (await _engines.Seats.HoldAsync(performance, next, "bob", LongTtl, ["B-1-1"])).Status);
        Assert.True(await _engines.Holds.UnbookAsync(resource, holdId));
        Assert.Equal(SeatStatus.Held, (await _engines.MapAsync(performance))["B-1-1"]);
    }

    [Fact]
    public async Task An_expired_hold_returns_its_seats_by_itself_and_can_never_be_confirmed()
    {
        var (performance, _) = await _engines.NewPerformanceAsync();
        var holdId = Guid.NewGuid();
        var resource = ResourceRef.Performance(performance);
        Assert.Equal(HoldAttemptStatus.Held, (await _engines.Seats.HoldAsync(performance, holdId, "alice", TimeSpan.FromMilliseconds(300), ["A-1-5", "A-1-6"])).Status);
        // The seat's mark as stored: the map would clear it once the 300 ms pass, which a stalled machine may let happen
        // before the map is read. No sweep visits this performance (it is in no registry).
        Assert.Equal($"H:{holdId:D}", (string?)await _engines.Redis.HashGetAsync(resource.StateKey, "A-1-5"));

        await Task.Delay(TimeSpan.FromMilliseconds(450));

        // Nobody released it: another user can take one of its seats straight away.
        var other = await _engines.Seats.HoldAsync(performance, Guid.NewGuid(), "bob", LongTtl, ["A-1-5"]);
        Assert.Equal(HoldAttemptStatus.Held, other.Status);
        Assert.Equal(ConfirmOutcome.Expired, await _engines.Holds.ConfirmAsync(resource, holdId, Guid.NewGuid()));
        var map = await _engines.MapAsync(performance);
        Assert.Equal(SeatStatus.Held, map["A-1-5"]);
        Assert.Equal(SeatStatus.Available, map["A-1-6"]);
        Assert.Equal(HoldState.Expired, (await _engines.Holds.FindAsync(holdId))!.State);
    }

    [Fact]
    public async Task Confirm_after_expiry_fails_even_when_no_other_call_touched_the_performance()
    {
        var (performance, _) = await _engines.NewPerformanceAsync();
        var holdId = Guid.NewGuid();
        var resource = ResourceRef.Performance(performance);
        await _engines.Seats.HoldAsync(performance, holdId, "alice", TimeSpan.FromMilliseconds(200), ["A-1-7"]);

        await Task.Delay(TimeSpan.FromMilliseconds(350));

        Assert.Equal(ConfirmOutcome.Expired, await _engines.Holds.ConfirmAsync(resource, holdId, Guid.NewGuid()));
        Assert.Equal(SeatStatus.Available, (await _engines.MapAsync(performance))["A-1-7"]);
    }

    [Fact]
    public async Task Sweep_expires_holds_whose_time_passed()
    {
        var (performance, _) = await _engines.NewPerformanceAsync();
        var resource = ResourceRef.Performance(performance);
        var expiring = Guid.NewGuid();
        await _engines.Seats.HoldAsync(performance, expiring, "alice", TimeSpan.FromMilliseconds(100), ["A-1-1"]);
        await _engines.Seats.HoldAsync(performance, Guid.NewGuid(), "alice", LongTtl, ["A-1-2"]);

        await Task.Delay(TimeSpan.FromMilliseconds(250));

        Assert.Equal(1, await _engines.Holds.SweepAsync(resource, 100));
        Assert.Equal("A", (string?)await _engines.Redis.HashGetAsync(resource.StateKey, "A-1-1"));
        Assert.Equal(1, await _engines.Redis.SortedSetLengthAsync(resource.ExpiryKey));
        Assert.Equal(0, await _engines.Holds.SweepAsync(resource, 100));
    }

    [Fact]
    public async Task Loading_keeps_the_bookings_it_is_given_and_never_overwrites_live_state()
    {
        var performance = Guid.NewGuid().ToString("N");
        var booked = Guid.NewGuid();
        string[] seats = ["A-1-1", "A-1-2", "A-1-3"];

        Assert.True(await _engines.Seats.LoadAsync(performance, seats, [new SeatBooking(booked, "alice", ["A-1-2"])]));
        await _engines.Seats.HoldAsync(performance, Guid.NewGuid(), "bob", LongTtl, ["A-1-1"]);
        Assert.False(await _engines.Seats.LoadAsync(performance, seats, []));

        var map = await _engines.MapAsync(performance);
        Assert.Equal(SeatStatus.Held, map["A-1-1"]);
        Assert.Equal(SeatStatus.Booked, map["A-1-2"]);
        Assert.Equal(SeatStatus.Available, map["A-1-3"]);
        // The rebuilt booking's record is kept as long as a confirmed one, not for ever.
        Assert.True(await _engines.Redis.KeyTimeToLiveAsync(ResourceRef.Performance(performance).HoldKey(booked)) > TimeSpan.FromDays(179));
        // The rebuilt booking can still be compensated by its hold id.
        Assert.True(await _engines.Holds.UnbookAsync(ResourceRef.Performance(performance), booked));
        Assert.Equal(SeatStatus.Available, (await _engines.MapAsync(performance))["A-1-2"]);
    }

    [Fact]
    public async Task Loading_leaves_out_a_booking_its_saga_gave_back_while_the_state_was_gone()
    {
        var performance = Guid.NewGuid().ToString("N");
        var resource = ResourceRef.Performance(performance);
        var booked = Guid.NewGuid();
        string[] seats = ["A-1-1", "A-1-2"];
        Assert.True(await _engines.Seats.LoadAsync(performance, seats, [new SeatBooking(booked, "alice", ["A-1-1"])]));

        // The state is dropped while idle; a cancel's compensation then finds no seats and marks only the record.
        await _engines.Redis.KeyDeleteAsync(resource.StateKey);
        Assert.True(await _engines.Holds.UnbookAsync(resource, booked));
        // A load that read the reservation before the saga's last commit still lists it as booked.
        Assert.True(await _engines.Seats.LoadAsync(performance, seats, [new SeatBooking(booked, "alice", ["A-1-1"])]));

        Assert.Equal(SeatStatus.Available, (await _engines.MapAsync(performance))["A-1-1"]);
        Assert.Equal("UNBOOKED", (string?)await _engines.Redis.HashGetAsync(resource.HoldKey(booked), "state"));
    }

    [Fact]
    public async Task Two_hundred_concurrent_holders_on_twenty_seats_hold_each_seat_exactly_once()
    {
        var (performance, _) = await _engines.NewPerformanceAsync(rows: 1, perRow: 10);
        var seats = Enumerable.Range(1, 10).SelectMany(n => new[] { $"A-1-{n}", $"B-1-{n}" }).ToList();
        var random = new Random(42);
        var requests = Enumerable.Range(0, 200)
            .Select(i => (HoldId: Guid.NewGuid(), User: $"user{i}", Seats: seats.OrderBy(_ => random.Next()).Take(1 + (i % 4)).ToList()))
            .ToList();

        using var start = new SemaphoreSlim(0);
        var attempts = requests.Select(async request =>
        {
            await start.WaitAsync();
            return (request, await _engines.Seats.HoldAsync(performance, request.HoldId, request.User, LongTtl, request.Seats));
        }).ToList();
        start.Release(requests.Count);
        var results = await Task.WhenAll(attempts);

        var winners = results.Where(r => r.Item2.Status == HoldAttemptStatus.Held).Select(r => r.request).ToList();
        var heldByWinners = winners.SelectMany(w => w.Seats).ToList();
        Assert.Equal(heldByWinners.Count, heldByWinners.Distinct().Count());
        Assert.All(results.Where(r => r.Item2.Status != HoldAttemptStatus.Held), r => Assert.Equal(HoldAttemptStatus.Unavailable, r.Item2.Status));

        // Every loser conflicted on at least one seat that a winner holds; every seat a winner holds is marked with its hold.
        var map = await _engines.MapAsync(performance);
        Assert.Equal(heldByWinners.Count, map.Count(s => s.Value == SeatStatus.Held));
        foreach (var winner in winners)
        {
            foreach (var seat in winner.Seats)
            {
                Assert.Equal($"H:{winner.HoldId:D}", (string?)await _engines.Redis.HashGetAsync($"perf:{{{performance}}}:seats", seat));
            }
        }

        // Then everyone retries whatever is left until nothing is: exactly the 20 seats end up held, none twice.
        foreach (var seat in map.Where(s => s.Value == SeatStatus.Available).Select(s => s.Key))
        {
            Assert.Equal(HoldAttemptStatus.Held, (await _engines.Seats.HoldAsync(performance, Guid.NewGuid(), "late", LongTtl, [seat])).Status);
        }

        var final = await _engines.MapAsync(performance);
        Assert.Equal(20, final.Count(s => s.Value == SeatStatus.Held));
    }
}
