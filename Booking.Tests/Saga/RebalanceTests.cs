using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Booking.AppHost.Hosting;
using Booking.PerformanceStub.Data;
using Booking.SagaWorker;
using Booking.SagaWorker.Saga;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Hosting;

namespace Booking.Tests.Saga;

/// <summary>
/// Two saga workers in one consumer group while bookings flow; one of them is restarted again and again. A rebalance
/// moves only the partitions that change hands.
/// </summary>
[Collection(HeavyLoad.Name)]
public sealed class RebalanceTests(SagaApp app, ITestOutputHelper output) : IClassFixture<SagaApp>
{
    private const int Restarts = 10;
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Two_workers_one_restarted_every_thirty_seconds_ten_times_get_full_concurrency_back_and_allocate_each_reservation_once()
    {
        var performance = await app.CreatePerformanceAsync(("A", 50, 40));
        var reservations = new ConcurrentBag<Guid>();
        using var stop = new CancellationTokenSource();
        var load = Task.Run(async () =>
        {
            var clients = Enumerable.Range(0, 10).Select(i => app.Client($"rebalance-{i}")).ToArray();
            for (var n = 0; n < 2000 && !stop.IsCancellationRequested; n++)
            {
                var client = clients[n % clients.Length];
                reservations.Add((await client.ReserveAsync((await client.HoldSeatsAsync(performance, $"A-{(n / 40) + 1}-{(n % 40) + 1}")).HoldId)).Id);
                await Task.Delay(200);
            }

            foreach (var client in clients)
            {
                client.Dispose();
            }
        });

        var first = Consumer(app.WorkerServices);
        var second = app.StartWorker();
        try
        {
            for (var restart = 1; restart <= Restarts; restart++)
            {
                await Task.Delay(Period);
                await second.DisposeAsync();
                await AssertFullConcurrencyAsync(first, $"the first worker after restart {restart} stopped the second");
                second = app.StartWorker();
                await AssertFullConcurrencyAsync(Consumer(second.Services), $"the second worker after restart {restart}");
                await AssertFullConcurrencyAsync(first, $"the first worker after restart {restart}");
            }
        }
        finally
        {
            await stop.CancelAsync();
            await load;
            await second.DisposeAsync();
        }

        var finals = await app.WaitForAllFinalAsync(reservations.ToList(), TimeSpan.FromSeconds(60));
        output.WriteLine($"{reservations.Count} reservations over {Restarts} restarts: {string.Join(", ", finals.GroupBy(r => r.Status).Select(g => $"{g.Key} {g.Count()}"))}");

        await using var stubDb = new PerformanceDbContext(new DbContextOptionsBuilder<PerformanceDbContext>().UseNpgsql(app.PerformanceDb).UseSnakeCaseNamingConvention().Options);
        var performanceId = Guid.Parse(performance);
        var allocations = await stubDb.Allocations.AsNoTracking().Where(a => a.PerformanceId == performanceId).ToListAsync();
        Assert.All(allocations.GroupBy(a => a.ReservationId), g => Assert.Single(g));
        Assert.Equal(
            finals.Where(r => r.Status == ReservationStatus.Confirmed).Select(r => r.Id).Order(),
            allocations.Where(a => a.State == AllocationState.Allocated).Select(a => a.ReservationId).Order());
    }

    [Fact]
    public async Task A_worker_joining_and_leaving_the_group_moves_only_the_partitions_it_takes_or_gives()
    {
        var first = app.WorkerServices;
        var before = await PartitionsAsync(first, p => p.Owned == KafkaMockCluster.Partitions, "the first worker alone");

        var second = app.StartWorker();
        try
        {
            var shared = await PartitionsAsync(first, p => p.Owned == KafkaMockCluster.Partitions / 2, "the first worker beside the second");
            await PartitionsAsync(second.Services, p => p.Owned == KafkaMockCluster.Partitions / 2, "the second worker");
            // An eager rebalance takes every partition from every member and hands half of them back.
            Assert.Equal(KafkaMockCluster.Partitions / 2, shared.Revoked - before.Revoked);

            // Sagas still complete with the partitions split between the two workers.
            var performance = await app.CreatePerformanceAsync(("A", 1, 8));
            using var client = app.Client();
            var ids = new List<Guid>();
            for (var seat = 1; seat <= 8; seat++)
            {
                ids.Add((await client.ReserveAsync((await client.HoldSeatsAsync(performance, $"A-1-{seat}")).HoldId)).Id);
            }

            Assert.All(await app.WaitForAllFinalAsync(ids, TimeSpan.FromSeconds(30)), r => Assert.Equal(ReservationStatus.Confirmed, r.Status));
        }
        finally
        {
            await second.DisposeAsync();
        }

        var alone = await PartitionsAsync(first, p => p.Owned == KafkaMockCluster.Partitions, "the first worker after the second left");
        Assert.Equal(KafkaMockCluster.Partitions / 2, alone.Revoked - before.Revoked);
    }

    /// <summary>A worker's partitions now and revoked so far, once <paramref name="condition"/> holds.</summary>
    private static async Task<(double Owned, double Revoked)> PartitionsAsync(IServiceProvider worker, Func<(double Owned, double Revoked), bool> condition, string whose)
    {
        static (double, double) Read(Dictionary<string, double> values) =>
            (values.GetValueOrDefault("booking.sagas.consumer_partitions", -1), values.GetValueOrDefault("booking.sagas.consumer_partitions_revoked", -1));
        var values = await Gauges.WaitForAsync(worker.GetRequiredService<IMeterFactory>(),
            name => name.StartsWith("booking.sagas.consumer_partitions", StringComparison.Ordinal),
            values => values.Count == 2 && condition(Read(values)),
            // A member that left without a word is dropped after the session timeout (6 s), then the group rebalances.
            TimeSpan.FromSeconds(30),
            values => $"{whose}: {string.Join(", ", values.Select(v => $"{v.Key}={v.Value}"))}");
        return Read(values);
    }

    private static RequestedEventConsumer Consumer(IServiceProvider worker) =>
        worker.GetServices<IHostedService>().OfType<RequestedEventConsumer>().Single();

    /// <summary>Every slot comes back between sagas: a slot lost in a rebalance would keep it below its maximum.</summary>
    private static async Task AssertFullConcurrencyAsync(RequestedEventConsumer consumer, string when)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (consumer.FreeSlots < consumer.MaxConcurrency)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{when}: {consumer.FreeSlots} of {consumer.MaxConcurrency} slots free.");
            await Task.Delay(20);
        }
    }
}
