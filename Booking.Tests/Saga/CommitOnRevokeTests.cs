using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text.Json;
using Booking.AppHost.Hosting;
using Booking.Core.Outbox;
using Confluent.Kafka;

namespace Booking.Tests.Saga;

/// <summary>
/// The whole system with saga workers that never commit on their interval (once an hour), and sagas that neither run
/// out of time nor are resumed by the sweep while a test lasts: only events consumed again finish a saga cut short.
/// </summary>
public sealed class RareCommitSagaApp(Dependencies dependencies) : SagaApp(dependencies)
{
    protected override IEnumerable<KeyValuePair<string, string?>> Settings =>
        [.. base.Settings, new("Saga:CommitInterval", "01:00:00"), new("Booking:SagaTimeout", "00:05:00"), new("Booking:SagaResumeAfter", "00:05:00")];
}

/// <summary>A partition a rebalance takes from a worker leaves with its finished sagas' offsets committed.</summary>
public sealed class CommitOnRevokeTests(RareCommitSagaApp app) : IClassFixture<RareCommitSagaApp>
{
    [Fact]
    public async Task The_partitions_a_joining_worker_takes_come_to_it_committed_up_to_the_sagas_already_finished()
    {
        var performance = await app.CreatePerformanceAsync(("A", 10, 20));
        using var client = app.Client();
        using var kafka = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = app.Kafka.BootstrapServers, GroupId = app.ConsumerGroup }).Build();
        var partitions = Enumerable.Range(0, KafkaMockCluster.Partitions).Select(p => new TopicPartition(BookingTopics.Requested, p)).ToList();

        // Bookings until every partition has some, all finished by the fixture's worker, which owns every partition.
        var ids = new List<Guid>();
        var seat = 0;
        while (partitions.Any(p => kafka.QueryWatermarkOffsets(p, TimeSpan.FromSeconds(5)).High.Value == 0))
        {
            seat++;
            var hold = await client.HoldSeatsAsync(performance, $"A-{((seat - 1) / 20) + 1}-{((seat - 1) % 20) + 1}");
            ids.Add((await client.ReserveAsync(hold.HoldId)).Id);
            Assert.True(seat < 200, "200 bookings did not reach every partition.");
        }

        Assert.All(await app.WaitForAllFinalAsync(ids, TimeSpan.FromSeconds(30)), r => Assert.Equal(ReservationStatus.Confirmed, r.Status));
        Assert.All(kafka.Committed(partitions, TimeSpan.FromSeconds(5)), c => Assert.Equal(Offset.Unset, c.Offset));

        var second = app.StartWorker();
        try
        {
            await HalfEachAsync(app.WorkerServices, second.Services);

            // Those the first worker gave away are committed to their end: the second does not run those sagas again.
            var committed = kafka.Committed(partitions, TimeSpan.FromSeconds(5)).Where(c => c.Offset != Offset.Unset).ToList();
            Assert.Equal(KafkaMockCluster.Partitions / 2, committed.Count);
            Assert.All(committed, c => Assert.Equal(kafka.QueryWatermarkOffsets(c.TopicPartition, TimeSpan.FromSeconds(5)).High, c.Offset));
        }
        finally
        {
            await second.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_worker_that_stops_with_sagas_in_flight_commits_only_below_them_and_they_finish_on_the_next_owner()
    {
        var held = new HeldAllocations();
        var second = app.StartWorker(() => held);
        List<Guid> ids;
        try
        {
            await HalfEachAsync(app.WorkerServices, second.Services);

            // The second worker's sagas wait in their allocation call; the first worker's complete.
            var performance = await app.CreatePerformanceAsync(("B", 1, 16));
            using var client = app.Client();
            ids = [];
            for (var seat = 1; seat <= 16; seat++)
            {
                ids.Add((await client.ReserveAsync((await client.HoldSeatsAsync(performance, $"B-1-{seat}")).HoldId)).Id);
            }

            // Until the first worker's are done: some of the second's wait behind the held call, in its batcher.
            var deadline = DateTime.UtcNow.AddSeconds(4);
            var confirmed = await ConfirmedAsync(ids);
            var steadySince = DateTime.UtcNow;
            while (held.Reservations.IsEmpty || DateTime.UtcNow - steadySince < TimeSpan.FromSeconds(1))
            {
                Assert.True(DateTime.UtcNow < deadline, $"{held.Reservations.Count} held, {confirmed} confirmed.");
                await Task.Delay(100);
                var now = await ConfirmedAsync(ids);
                (confirmed, steadySince) = now == confirmed ? (confirmed, steadySince) : (now, DateTime.UtcNow);
            }

            Assert.InRange(confirmed, 1, ids.Count - held.Reservations.Count);
        }
        finally
        {
            // Stopping cuts the held sagas short, and the consumer commits as it closes.
            await second.DisposeAsync();
        }

        using var kafka = new ConsumerBuilder<string, Ignore>(new ConsumerConfig { BootstrapServers = app.Kafka.BootstrapServers, GroupId = app.ConsumerGroup }).Build();
        var committed = kafka.Committed(Enumerable.Range(0, KafkaMockCluster.Partitions).Select(p => new TopicPartition(BookingTopics.Requested, p)), TimeSpan.FromSeconds(5))
            .ToDictionary(c => c.Partition.Value, c => c.Offset.Value);
        foreach (var (partition, offset) in RequestedOffsets(kafka, held.Reservations.Keys))
        {
            Assert.True(committed[partition] <= offset, $"Partition {partition} committed at {committed[partition]}, past the held saga's event at {offset}.");
        }

        Assert.All(await app.WaitForAllFinalAsync(ids, TimeSpan.FromSeconds(30)), r => Assert.Equal(ReservationStatus.Confirmed, r.Status));
    }

    /// <summary>Waits until the rebalance gave each of the two workers half the partitions.</summary>
    private static async Task HalfEachAsync(params IServiceProvider[] workers)
    {
        foreach (var worker in workers)
        {
            await Gauges.WaitForAsync(worker.GetRequiredService<IMeterFactory>(),
                name => name == "booking.sagas.consumer_partitions",
                values => values.GetValueOrDefault("booking.sagas.consumer_partitions") == KafkaMockCluster.Partitions / 2,
                TimeSpan.FromSeconds(30),
                values => $"a worker owns {string.Join(", ", values.Values)} partitions");
        }
    }

    private async Task<int> ConfirmedAsync(List<Guid> ids)
    {
        await using var db = app.NewDbContext();
        return await db.Reservations.CountAsync(r => ids.Contains(r.Id) && r.Status == ReservationStatus.Confirmed);
    }

    /// <summary>Where the requested events of <paramref name="reservations"/> are: partition and offset of each.</summary>
    private static List<(int Partition, long Offset)> RequestedOffsets(IConsumer<string, Ignore> kafka, ICollection<Guid> reservations)
    {
        var keys = reservations.Select(id => id.ToString("D")).ToHashSet();
        var found = new List<(int, long)>();
        for (var partition = 0; partition < KafkaMockCluster.Partitions; partition++)
        {
            var topicPartition = new TopicPartition(BookingTopics.Requested, partition);
            var end = kafka.QueryWatermarkOffsets(topicPartition, TimeSpan.FromSeconds(5)).High.Value;
            kafka.Assign(new TopicPartitionOffset(topicPartition, Offset.Beginning));
            for (var read = 0L; read < end && kafka.Consume(TimeSpan.FromSeconds(5)) is { } message; read++)
            {
                if (keys.Contains(message.Message.Key))
                {
                    found.Add((partition, message.Offset.Value));
                }
            }
        }

        Assert.Equal(reservations.Count, found.Count);
        return found;
    }

    /// <summary>Holds every allocation call until the caller gives up, noting whose allocations it held.</summary>
    private sealed class HeldAllocations : DelegatingHandler
    {
        public ConcurrentDictionary<Guid, byte> Reservations { get; } = new();

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            using var body = JsonDocument.Parse(await request.Content!.ReadAsStringAsync(cancellationToken));
            foreach (var allocation in body.RootElement.GetProperty("allocations").EnumerateArray())
            {
                Reservations.TryAdd(allocation.GetProperty("reservationId").GetGuid(), 0);
            }

            await Task.Delay(Timeout.Infinite, cancellationToken);
            throw new OperationCanceledException(cancellationToken);
        }
    }
}
