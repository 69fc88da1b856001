using Booking.Api.Http;
using Booking.SagaWorker.Reconciliation;
using StackExchange.Redis;

namespace Booking.Tests.Faults;

/// <summary>The whole system on a Redis of its own, so a test can make it lose writes; the reconciler runs when asked.</summary>
public class OwnRedisSagaApp(Dependencies dependencies) : SagaApp(dependencies)
{
    private OwnRedis _redis = null!;

    public OwnRedis OwnRedis => _redis;

    /// <summary>With an append-only file written every second, as the AppHost runs it.</summary>
    protected virtual bool Durable => false;

    public override IDatabase Redis => _redis.Connection.GetDatabase();

    public IServer RedisServer => _redis.Connection.GetServer(_redis.Connection.GetEndPoints()[0]);

    public HoldReconciler Reconciler => WorkerServices.GetRequiredService<HoldReconciler>();

    protected override IEnumerable<KeyValuePair<string, string?>> Settings =>
    [
        .. base.Settings,
        new("ConnectionStrings:redis", _redis.ConnectionString),
        // Only the run at start-up happens by itself; the tests run it when they have made Redis lose writes.
        new("Reconciler:Interval", "01:00:00"),
    ];

    protected override async Task BeforeStartAsync() => _redis = await Infrastructure.OwnRedis.StartAsync(Durable);

    protected override async ValueTask StopMoreAsync()
    {
        await base.StopMoreAsync();
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
    }
}

/// <summary>Redis loses writes (its last second with AOF everysec); PostgreSQL decides and the reconciler repairs.</summary>
[Collection(HeavyLoad.Name)]
public sealed class RedisLossTests(OwnRedisSagaApp app) : IClassFixture<OwnRedisSagaApp>
{
    [Fact]
    public async Task Lost_confirms_and_lost_releases_are_repaired_from_postgresql_and_no_seat_is_sold_twice()
    {
        var performance = await app.CreatePerformanceAsync(("A", 4, 10));
        var seats = $"perf:{{{performance}}}:seats";
        using var client = app.Client();
        var reservations = new List<Guid>();
        for (var i = 0; i < 30; i++)
        {
            reservations.Add((await client.ReserveAsync((await client.HoldSeatsAsync(performance, $"A-{(i / 10) + 1}-{(i % 10) + 1}")).HoldId)).Id);
        }

        foreach (var id in reservations)
        {
            await app.WaitForFinalAsync(id);
        }

        foreach (var id in reservations.Skip(20))
        {
            (await client.PostAsync($"/api/reservations/{id}/cancel", null)).EnsureSuccessStatusCode();
            Assert.Equal(ReservationStatus.Cancelled, (await app.WaitForFinalAsync(id)).Status);
        }

        Assert.Equal(0, await app.Reconciler.RunOnceAsync(CancellationToken.None));
        var byId = await ReservationsAsync(app, reservations);

        // Redis "forgets" its last writes: ten confirms (five as still-held pinned holds, five with the hold record
        // gone and the seat free again) and ten releases of cancelled reservations; then it restarts (marker gone).
        foreach (var (id, i) in reservations.Take(10).Select((id, i) => (id, i)))
        {
            var reservation = byId[id];
            var hold = $"perf:{{{performance}}}:hold:{reservation.HoldId:D}";
            if (i < 5)
            {
                await app.Redis.HashSetAsync(seats, reservation.SeatIds[0], $"H:{reservation.HoldId:D}");
                await app.Redis.HashSetAsync(hold, "state", "HELD");
            }
            else
            {
                await app.Redis.HashSetAsync(seats, reservation.SeatIds[0], "A");
                await app.Redis.KeyDeleteAsync(hold);
            }
        }

        foreach (var id in reservations.Skip(20))
        {
            var reservation = byId[id];
            await app.Redis.HashSetAsync(seats, reservation.SeatIds[0], $"B:{reservation.HoldId:D}");
            await app.Redis.HashSetAsync($"perf:{{{performance}}}:hold:{reservation.HoldId:D}", "state", "BOOKED");
        }

        // Meanwhile someone else holds a seat whose confirm was lost: Redis let it through, PostgreSQL will not.
        using var mallory = app.Client("mallory");
        var stolen = await mallory.HoldSeatsAsync(performance, byId[reservations[7]].SeatIds[0]);
        await (await mallory.PostJsonAsync("/api/reservations", new { holdId = stolen.HoldId })).AssertProblemAsync(HttpStatusCode.Conflict, ProblemCodes.SeatsUnavailable);
        await app.Redis.KeyDeleteAsync("booking:reconciler:marker");

        Assert.Equal(20, await app.Reconciler.RunOnceAsync(CancellationToken.None));

        await AssertRedisMatchesPostgresAsync(app, performance, reservations);
        // A record the repair wrote again is kept as long as a confirmed one, not for ever.
        foreach (var id in reservations.Take(10))
        {
            Assert.True(await app.Redis.KeyTimeToLiveAsync($"perf:{{{performance}}}:hold:{byId[id].HoldId:D}") > TimeSpan.FromDays(179));
        }

        Assert.Equal(0, await app.Reconciler.RunOnceAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Lost_capacity_confirms_are_booked_again_from_postgresql()
    {
        var restaurant = $"bistro-{Guid.NewGuid():N}"[..20];
        using var client = app.Client();
        await client.SetCapacityAsync("RESTAURANT", restaurant, "2026-12-24T19:00", 10);
        var reservations = new List<Guid>();
        foreach (var quantity in new[] { 3, 2, 1 })
        {
            reservations.Add((await client.ReserveAsync((await client.HoldCapacityAsync("RESTAURANT", restaurant, "2026-12-24T19:00", quantity)).HoldId)).Id);
        }

        foreach (var id in reservations)
        {
            Assert.Equal(ReservationStatus.Confirmed, (await app.WaitForFinalAsync(id)).Status);
        }

        // Redis forgets its last second: the first hold with its confirm, the second's confirm alone (its hold then
        // expired, its units given back); the third is kept. Then it restarts (the marker is gone).
        var byId = await ReservationsAsync(app, reservations);
        var slot = $"cap:{{RESTAURANT:{restaurant}:2026-12-24T19:00}}";
        await app.Redis.KeyDeleteAsync($"{slot}:hold:{byId[reservations[0]].HoldId:D}");
        await app.Redis.HashSetAsync($"{slot}:hold:{byId[reservations[1]].HoldId:D}", "state", "EXPIRED");
        await app.Redis.HashIncrementAsync($"{slot}:state", "booked", -5);
        await app.Redis.KeyDeleteAsync("booking:reconciler:marker");

        Assert.Equal(2, await app.Reconciler.RunOnceAsync(CancellationToken.None));

        var capacity = await (await client.GetAsync($"/api/capacity/RESTAURANT/{restaurant}/2026-12-24T19:00")).ReadAsync<Booking.Api.Capacity.CapacityDto>(HttpStatusCode.OK);
        Assert.Equal((10, 0, 6, 4), (capacity.Capacity, capacity.Held, capacity.Booked, capacity.Available));
        foreach (var id in reservations)
        {
            Assert.Equal("BOOKED", (string?)await app.Redis.HashGetAsync($"{slot}:hold:{byId[id].HoldId:D}", "state"));
        }

        Assert.Equal(0, await app.Reconciler.RunOnceAsync(CancellationToken.None));
    }

    internal static async Task<Dictionary<Guid, Reservation>> ReservationsAsync(SagaApp app, IReadOnlyCollection<Guid> ids)
    {
        await using var db = app.NewDbContext();
        return await db.Reservations.AsNoTracking().Where(r => ids.Contains(r.Id)).ToDictionaryAsync(r => r.Id);
    }

    /// <summary>No seat in two confirmed reservations; every seat BOOKED in Redis exactly when a confirmed reservation has it.</summary>
    internal static async Task AssertRedisMatchesPostgresAsync(SagaApp app, string performance, IReadOnlyCollection<Guid> ids)
    {
        var reservations = (await ReservationsAsync(app, ids)).Values.ToList();
        var confirmed = reservations.Where(r => r.Status == ReservationStatus.Confirmed).ToList();
        var confirmedSeats = confirmed.SelectMany(r => r.SeatIds).ToList();
        Assert.Equal(confirmedSeats.Count, confirmedSeats.Distinct().Count());

        var redisSeats = (await app.Redis.HashGetAllAsync($"perf:{{{performance}}}:seats")).ToDictionary(e => e.Name.ToString(), e => e.Value.ToString());
        var holdOf = confirmed.SelectMany(r => r.SeatIds.Select(s => (Seat: s, r.HoldId))).ToDictionary(x => x.Seat, x => x.HoldId);
        foreach (var (seat, value) in redisSeats)
        {
            if (holdOf.TryGetValue(seat, out var hold))
            {
                Assert.Equal($"B:{hold:D}", value);
            }
            else
            {
                Assert.False(value.StartsWith("B:", StringComparison.Ordinal), $"Seat {seat} is {value} without a confirmed reservation.");
            }
        }
    }
}

/// <summary>
/// Redis loses everything mid-load. A class of its own, so a Redis of its own: the flush also deletes the reconciler's
/// marker, and the other tests' exact repair counts must not depend on whether this test ran before them.
/// </summary>
[Collection(HeavyLoad.Name)]
public sealed class RedisFlushTests(OwnRedisSagaApp app, ITestOutputHelper output) : IClassFixture<OwnRedisSagaApp>
{
    [Fact]
    public async Task A_redis_flushed_mid_load_sells_no_seat_twice_and_after_the_reconciler_holds_no_seat_without_a_live_reservation()
    {
        var performance = await app.CreatePerformanceAsync(("F", 50, 40));
        var accepted = new System.Collections.Concurrent.ConcurrentBag<Guid>();
        var statuses = new System.Collections.Concurrent.ConcurrentBag<HttpStatusCode>();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(8));
        var flush = Task.Run(async () =>
        {
            await Task.Delay(TimeSpan.FromSeconds(3));
            await app.RedisServer.FlushAllDatabasesAsync();
        });

        await Task.WhenAll(Enumerable.Range(0, 16).Select(user => Task.Run(async () =>
        {
            using var client = app.Client($"flush-{user}");
            while (!stop.IsCancellationRequested)
            {
                await Task.Delay(150);
                var seat = $"F-{Random.Shared.Next(1, 51)}-{Random.Shared.Next(1, 41)}";
                using var hold = await client.PostJsonAsync($"/api/performances/{performance}/holds", new { seatIds = new[] { seat } });
                statuses.Add(hold.StatusCode);
                if (hold.StatusCode != HttpStatusCode.Created)
                {
                    continue;
                }

                var holdId = (await hold.ReadAsync<Api.Holds.SeatHoldDto>(HttpStatusCode.Created)).HoldId;
                using var reserve = await client.PostJsonAsync("/api/reservations", new { holdId });
                statuses.Add(reserve.StatusCode);
                if (reserve.StatusCode == HttpStatusCode.Accepted)
                {
                    var id = (await reserve.ReadAsync<Core.Reservations.ReservationDto>(HttpStatusCode.Accepted)).Id;
                    accepted.Add(id);
                    if (Random.Shared.Next(4) == 0)
                    {
                        using var cancel = await client.PostAsync($"/api/reservations/{id}/cancel", null);
                        statuses.Add(cancel.StatusCode);
                    }
                }
            }
        })));
        await flush;

        output.WriteLine(string.Join(", ", statuses.GroupBy(s => s).OrderBy(g => g.Key).Select(g => $"{(int)g.Key} x{g.Count()}")));
        Assert.DoesNotContain(statuses, s => (int)s >= 500 && s != HttpStatusCode.ServiceUnavailable);
        foreach (var id in accepted)
        {
            await app.WaitForFinalAsync(id, TimeSpan.FromSeconds(60));
        }

        var repaired = await app.Reconciler.RunOnceAsync(CancellationToken.None);
        var finals = await RedisLossTests.ReservationsAsync(app, accepted.ToList());
        output.WriteLine($"{accepted.Count} reservations accepted ({string.Join(", ", finals.Values.GroupBy(r => r.Status).Select(g => $"{g.Key} {g.Count()}"))}); the reconciler repaired {repaired} holds");
        await RedisLossTests.AssertRedisMatchesPostgresAsync(app, performance, accepted.ToList());
    }
}
