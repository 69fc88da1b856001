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

/// <summary>A worker that stops leaves its partitions with its finished sagas' offsets committed, and only those.</summary>
public sealed class CommitOnRevokeTests(RareCommitSagaApp app) : IClassFixture<RareCommitSagaApp>
{
    [Fact]
    public async Task A_worker_that_stops_commits_the_sagas_it_finished_so_the_next_owner_of_its_partitions_starts_after_them()
    {
        var performance = await app.CreatePerformanceAsync(("A", 10, 20));
        using var client = app.Client();
        using var kafka = GroupReader();
        var partitions = Enumerable.Range(0, KafkaMockCluster.Partitions).Select(p => new TopicPartition(BookingTopics.Requested, p)).ToList();
        long End(TopicPartition partition) => kafka.QueryWatermarkOffsets(partition, TimeSpan.FromSeconds(5)).High.Value;
        var before = partitions.ToDictionary(p => p, End);

        var second = app.StartWorker();
        try
        {
            await HalfEachAsync(app.WorkerServices, second.Services);

            // Bookings until every partition has new ones, all finished by the two workers, neither of which commits
            // any on its interval.
            var ids = new List<Guid>();
            var seat = 0;
            while (partitions.Any(p => End(p) == before[p]))
            {
                seat++;
                var hold = await client.HoldSeatsAsync(performance, $"A-{((seat - 1) / 20) + 1}-{((seat - 1) % 20) + 1}");
                ids.Add((await client.ReserveAsync(hold.HoldId)).Id);
                Assert.True(seat < 200, "200 bookings did not reach every partition.");
            }

            Assert.All(await app.WaitForAllFinalAsync(ids, TimeSpan.FromSeconds(30)), r => Assert.Equal(ReservationStatus.Confirmed, r.Status));
            Assert.All(kafka.Committed(partitions, TimeSpan.FromSeconds(5)), c => Assert.True(c.Offset.Value < End(c.TopicPartition), $"{c.TopicPartition} committed to its end already."));
        }
        finally
        {
            await second.DisposeAsync();
        }

        // The second worker's partitions are committed to their end as it left; the first's are not, yet.
        var committed = kafka.Committed(partitions, TimeSpan.FromSeconds(5));
        Assert.True(committed.Count(c => c.Offset.Value == End(c.TopicPartition)) == KafkaMockCluster.Partitions / 2,
            $"Committed {string.Join(", ", committed.Select(c => $"{c.Partition.Value}: {c.Offset.Value} of {End(c.TopicPartition)}"))}.");
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

            // Once some of the second worker's sagas wait in their allocation call (others wait behind it, in its batcher).
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (held.Reservations.IsEmpty)
            {
                Assert.True(DateTime.UtcNow < deadline, "No allocation call of the second worker was held.");
                await Task.Delay(20);
            }
        }
        finally
        {
            // Stopping cuts the held sagas short, and the consumer commits as it closes.
            await second.DisposeAsync();
        }

        using var kafka = GroupReader();
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

    /// <summary>Reads the workers' group's committed offsets, and the requested topic, without joining or committing.</summary>
    private IConsumer<string, Ignore> GroupReader() =>
        new ConsumerBuilder<string, Ignore>(new ConsumerConfig { BootstrapServers = app.Kafka.BootstrapServers, GroupId = app.ConsumerGroup, EnableAutoCommit = false }).Build();

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
