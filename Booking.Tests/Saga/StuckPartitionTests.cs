using Booking.AppHost.Hosting;
using Booking.Core.Outbox;
using Booking.SagaWorker.Outbox;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Npgsql;

namespace Booking.Tests.Saga;

/// <summary>A partition that takes nothing holds back only the reservations whose events wait for it.</summary>
public sealed class StuckPartitionTests(StuckPartitionTests.TwoBrokers app) : IClassFixture<StuckPartitionTests.TwoBrokers>
{
    private const int Keys = 40;
    private const int SecondBroker = KafkaMockCluster.FirstBrokerId + 1;

    /// <summary>Every partition led by the first broker but partition 0 of the completed topic, led by the second.</summary>
    public sealed class TwoBrokers(Dependencies dependencies) : SagaApp(dependencies)
    {
        protected override int KafkaBrokers => 2;

        // The first stuck rows wait through both checks and librdkafka's reconnect backoff: no delivery times out
        // meanwhile, so a relay warning here is a failure of the relay's round, never a timeout.
        protected override IEnumerable<KeyValuePair<string, string?>> Settings =>
            [.. base.Settings, new(OutboxRelay.DeliveryTimeoutSetting, "00:05:00")];

        protected override void ConfigureKafka(KafkaMockCluster kafka)
        {
            foreach (var topic in BookingTopics.All)
            {
                for (var partition = 0; partition < KafkaMockCluster.Partitions; partition++)
                {
                    kafka.SetPartitionLeader(topic, partition, topic == BookingTopics.Completed && partition == 0 ? SecondBroker : KafkaMockCluster.FirstBrokerId);
                }
            }
        }
    }

    [Fact]
    public async Task While_a_partitions_broker_is_down_other_keys_events_flow_and_each_keys_events_stay_in_order()
    {
        await using var db = new NpgsqlConnection(app.BookingDb);
        await db.OpenAsync();
        app.Kafka.SetBrokerDown(SecondBroker);
        try
        {
            // Each key's first event goes to the topic with the stuck partition, its second to another topic. Keys
            // spread over four partitions, so about a quarter of them wait; the rest must not wait with them, nor
            // must the rows committed after the stuck ones.
            var first = await InsertAsync(db);
            await WaitUntilOnlyTheStuckWaitAsync(db, first);
            var later = await InsertAsync(db);
            await WaitUntilOnlyTheStuckWaitAsync(db, later);
        }
        finally
        {
            app.Kafka.SetBrokerUp(SecondBroker);
        }

        var deadline = DateTime.UtcNow.AddSeconds(60);
        List<(string Key, DateTimeOffset? First, DateTimeOffset? Second)> rows;
        while ((rows = await RowsAsync(db)).Any(row => row.First is null || row.Second is null))
        {
            Assert.True(DateTime.UtcNow < deadline, $"Events were not all sent 60 s after its broker came back. The worker's last warnings:{Environment.NewLine}{app.WorkerWarnings}");
            await Task.Delay(100);
        }

        Assert.All(rows, row => Assert.True(row.Second >= row.First, $"Key {row.Key}'s second event was sent before its first."));
        // Rows left waiting (for less than the delivery timeout) are no failure: the relay went on leading throughout.
        Assert.DoesNotContain(app.WorkerServices.GetFakeLogCollector().GetSnapshot(),
            record => record.Category == typeof(OutboxRelay).FullName && record.Level >= LogLevel.Warning);
    }

    /// <summary>
    /// Waits until every key whose first event was delivered has its second delivered too, in 60 s (a few seconds
    /// alone; the broker stays down meanwhile, so a relay that held every key back still fails).
    /// </summary>
    private async Task WaitUntilOnlyTheStuckWaitAsync(NpgsqlConnection db, List<string> keys)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var rows = (await RowsAsync(db)).Where(row => keys.Contains(row.Key)).ToList();
            Assert.DoesNotContain(rows, row => row.First is null && row.Second is not null);
            var stuck = rows.Count(row => row.First is null);
            var flowing = rows.Where(row => row.First is not null).ToList();
            if (stuck > 0 && flowing.Count > 0 && flowing.All(row => row.Second is not null))
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline,
                $"60 s after they were committed, {flowing.Count(row => row.Second is null)} of the {flowing.Count} keys whose first event was delivered still wait for their second ({stuck} keys stuck). The worker's last warnings:{Environment.NewLine}{app.WorkerWarnings}");
            await Task.Delay(100);
        }
    }

    /// <summary>Commits two events for each of <see cref="Keys"/> new keys, each key's first before its second.</summary>
    private static async Task<List<string>> InsertAsync(NpgsqlConnection db)
    {
        var keys = Enumerable.Range(0, Keys).Select(_ => Guid.CreateVersion7().ToString("D")).ToList();
        await using var command = new NpgsqlCommand($"""
            INSERT INTO outbox_messages (event_id, topic, message_key, payload, created_at, attempts)
            SELECT gen_random_uuid(), topic, key, '{"{}"}', now(), 0
            FROM unnest(@keys) AS key, unnest(ARRAY['{BookingTopics.Completed}', '{BookingTopics.Cancelled}']) WITH ORDINALITY AS t(topic, n)
            ORDER BY t.n, key
            """, db)
        {
            Parameters = { new("keys", keys.ToArray()) },
        };
        await command.ExecuteNonQueryAsync();
        return keys;
    }

    private static async Task<List<(string Key, DateTimeOffset? First, DateTimeOffset? Second)>> RowsAsync(NpgsqlConnection db)
    {
        await using var command = new NpgsqlCommand($"""
            SELECT message_key,
                   max(sent_at) FILTER (WHERE topic = '{BookingTopics.Completed}'),
                   max(sent_at) FILTER (WHERE topic = '{BookingTopics.Cancelled}')
            FROM outbox_messages GROUP BY message_key
            """, db);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<(string, DateTimeOffset?, DateTimeOffset?)>();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetFieldValue<DateTimeOffset>(1), reader.IsDBNull(2) ? null : reader.GetFieldValue<DateTimeOffset>(2)));
        }

        return rows;
    }
}
