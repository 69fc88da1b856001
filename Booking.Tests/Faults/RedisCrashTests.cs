using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Booking.Api.Http;
using Booking.Api.Holds;
using Booking.Api.Seats;
using Booking.Core.Reservations;
using StackExchange.Redis;

namespace Booking.Tests.Faults;

/// <summary>The whole system on a Redis of its own that writes its append-only file every second, as in production.</summary>
public sealed class DurableRedisSagaApp(Dependencies dependencies) : OwnRedisSagaApp(dependencies)
{
    protected override bool Durable => true;
}

/// <summary>Redis frozen for fifteen seconds under 200 users, then killed and restarted from its AOF.</summary>
[Collection(HeavyLoad.Name)]
public sealed class RedisCrashTests(DurableRedisSagaApp app, ITestOutputHelper output) : IClassFixture<DurableRedisSagaApp>
{
    private const int Users = 200;

    [Fact]
    public async Task Frozen_then_killed_and_restarted_from_its_aof_under_two_hundred_users_redis_costs_only_503s_and_ends_equal_to_postgresql()
    {
        var performance = await app.CreatePerformanceAsync(("A", 100, 50), ("B", 100, 50));
        var outcomes = new ConcurrentQueue<(TimeSpan At, HttpStatusCode Status)>();
        var accepted = new ConcurrentBag<Guid>();
        var clock = Stopwatch.StartNew();
        TimeSpan? recovered = null;
        using var stop = new CancellationTokenSource();

        var load = Task.WhenAll(Enumerable.Range(0, Users).Select(user => Task.Run(async () =>
        {
            using var client = app.Client($"crash-{user}");
            var random = new Random(user);
            while (!stop.IsCancellationRequested)
            {
                await Task.Delay(random.Next(200, 600));
                var seat = $"{(random.Next(2) == 0 ? "A" : "B")}-{random.Next(1, 101)}-{random.Next(1, 51)}";
                var status = await BookAsync(client, performance, seat, random, accepted);
                outcomes.Enqueue((clock.Elapsed, status));
            }
        })));

        await Task.Delay(TimeSpan.FromSeconds(5));
        Signal("STOP");
        await Task.Delay(TimeSpan.FromSeconds(15));
        Signal("CONT");
        Signal("KILL");
        await app.OwnRedis.StartAgainAsync();
        recovered = clock.Elapsed;
        await Task.Delay(TimeSpan.FromSeconds(30));
        await stop.CancelAsync();
        await load;

        var all = outcomes.ToList();
        var after = all.Where(o => o.At > recovered + TimeSpan.FromSeconds(5)).ToList();
        var afterOk = after.Count(o => (int)o.Status < 500);
        output.WriteLine($"{all.Count} requests: {string.Join(", ", all.GroupBy(o => o.Status).OrderBy(g => g.Key).Select(g => $"{(int)g.Key} x{g.Count()}"))}");
        output.WriteLine($"from 5 s after the restart ({recovered.Value.TotalSeconds:F0} s) to 30 s after: {afterOk}/{after.Count} answered without a 5xx");
        Assert.DoesNotContain(all, o => (int)o.Status >= 500 && o.Status != HttpStatusCode.ServiceUnavailable);
        Assert.True(afterOk >= after.Count * 0.99, $"{afterOk}/{after.Count} after recovery.");

        // Every accepted booking ends, and the reconciler leaves Redis equal to PostgreSQL seat by seat.
        var finals = await app.WaitForAllFinalAsync(accepted.ToList(), TimeSpan.FromSeconds(120));
        var repaired = await app.Reconciler.RunOnceAsync(CancellationToken.None);
        output.WriteLine($"{accepted.Count} reservations accepted ({string.Join(", ", finals.GroupBy(r => r.Status).Select(g => $"{g.Key} {g.Count()}"))}); reconciler repaired {repaired}");
        var confirmedSeats = finals.Where(r => r.Status == ReservationStatus.Confirmed).SelectMany(r => r.SeatIds.Select(s => (Seat: s, r.HoldId))).ToList();
        Assert.Equal(confirmedSeats.Count, confirmedSeats.Select(s => s.Seat).Distinct().Count());
        var holdOf = confirmedSeats.ToDictionary(s => s.Seat, s => s.HoldId);
        var redisSeats = (await app.Redis.HashGetAllAsync($"perf:{{{performance}}}:seats")).ToDictionary(e => e.Name.ToString(), e => e.Value.ToString());
        foreach (var (seat, value) in redisSeats)
        {
            Assert.Equal(holdOf.TryGetValue(seat, out var hold) ? $"B:{hold:D}" : value.StartsWith("H:", StringComparison.Ordinal) ? value : "A", value);
        }
    }

    [Fact]
    public async Task A_restart_that_the_reconcilers_next_run_saw_before_failing_still_makes_the_run_after_it_look_back()
    {
        const string Slot = "2026-12-24T19:00";
        var restaurant = $"bistro-{Guid.NewGuid():N}"[..20];
        using var client = app.Client();
        await client.SetCapacityAsync("RESTAURANT", restaurant, Slot, 10);
        var id = (await client.ReserveAsync((await client.HoldCapacityAsync("RESTAURANT", restaurant, Slot, 3)).HoldId)).Id;
        Assert.Equal(ReservationStatus.Confirmed, (await app.WaitForFinalAsync(id)).Status);
        // Past the overlap (5 s) with which each run reads again behind the last one's end: only a look-back reaches it.
        await Task.Delay(TimeSpan.FromSeconds(6));
        await app.Reconciler.RunOnceAsync(CancellationToken.None);

        // Redis loses the confirm, then restarts from its AOF: a new run id, the reconciler's marker still there.
        var holdId = (await RedisLossTests.ReservationsAsync(app, [id]))[id].HoldId;
        var slot = $"cap:{{RESTAURANT:{restaurant}:{Slot}}}";
        await app.Redis.KeyDeleteAsync($"{slot}:hold:{holdId:D}");
        await app.Redis.HashIncrementAsync($"{slot}:state", "booked", -3);
        await Task.Delay(TimeSpan.FromSeconds(2));
        Signal("KILL");
        await app.OwnRedis.StartAgainAsync();

        // The first run after the restart fails once it has looked at Redis (here: cancelled; PostgreSQL down would do).
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        while (true)
        {
            try
            {
                await app.Reconciler.RunOnceAsync(cancelled.Token);
                Assert.Fail("A cancelled run completed.");
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (Exception exception) when (exception is RedisException or RedisTimeoutException)
            {
                // The worker's connection has not found the restarted Redis yet.
                await Task.Delay(200);
            }
        }

        await app.Reconciler.RunOnceAsync(CancellationToken.None);

        Assert.Equal("BOOKED", (string?)await app.Redis.HashGetAsync($"{slot}:hold:{holdId:D}", "state"));
        var capacity = await (await client.GetAsync($"/api/capacity/RESTAURANT/{restaurant}/{Slot}")).ReadAsync<Booking.Api.Capacity.CapacityDto>(HttpStatusCode.OK);
        Assert.Equal((3, 7), (capacity.Booked, capacity.Available));
    }

    private static async Task<HttpStatusCode> BookAsync(HttpClient client, string performance, string seat, Random random, ConcurrentBag<Guid> accepted)
    {
        using var hold = await client.PostJsonAsync($"/api/performances/{performance}/holds", new { seatIds = new[] { seat } });
        if (hold.StatusCode != HttpStatusCode.Created)
        {
            return hold.StatusCode;
        }

        var holdId = (await hold.ReadAsync<SeatHoldDto>(HttpStatusCode.Created)).HoldId;
        using var reserve = await client.PostJsonAsync("/api/reservations", new { holdId });
        if (reserve.StatusCode != HttpStatusCode.Accepted)
        {
            return reserve.StatusCode;
        }

        var id = (await reserve.ReadAsync<ReservationDto>(HttpStatusCode.Accepted)).Id;
        accepted.Add(id);
        if (random.Next(5) == 0)
        {
            using var cancel = await client.PostAsync($"/api/reservations/{id}/cancel", null);
            return cancel.StatusCode;
        }

        return reserve.StatusCode;
    }

    private void Signal(string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", app.OwnRedis.Pid.ToString(CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }
}
