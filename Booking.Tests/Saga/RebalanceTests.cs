using System.Collections.Concurrent;
using Booking.PerformanceStub.Data;
using Booking.SagaWorker;
using Booking.SagaWorker.Saga;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Hosting;

namespace Booking.Tests.Saga;

/// <summary>Two saga workers in one consumer group while bookings flow; one of them is restarted again and again.</summary>
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
