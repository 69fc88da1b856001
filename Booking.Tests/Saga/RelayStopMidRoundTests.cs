using Booking.AppHost.Hosting;
using Booking.Core.Outbox;
using Booking.SagaWorker.Outbox;
using Npgsql;

namespace Booking.Tests.Saga;

/// <summary>A relay stopped in the middle of a backlog marks every event its last round put on Kafka.</summary>
public sealed class RelayStopMidRoundTests(SagaApp app) : IClassFixture<SagaApp>
{
    private const int Backlog = 50_000;

    [Fact]
    public async Task A_relay_stopped_in_the_middle_of_a_round_marks_sent_every_event_Kafka_took()
    {
        // A first event sent shows the relay leading, its producer connected.
        var first = await app.AddOutboxEventAsync();
        await app.WaitForOutboxSentAsync([Guid.Parse(first.MessageKey)]);

        // Each wave of a round then waits a round trip: most of the relay's time goes in the waits a stop lands in.
        app.Kafka.SetBrokerRoundTrip(KafkaMockCluster.FirstBrokerId, TimeSpan.FromMilliseconds(40));
        try
        {
            await app.AddOutboxBacklogAsync(Backlog);
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (await app.OutboxSentCountAsync() < 2)
            {
                Assert.True(DateTime.UtcNow < deadline, "The relay did not start on the backlog in 30 s.");
                await Task.Delay(20);
            }

            await Task.Delay(TimeSpan.FromMilliseconds(500));
            var relay = app.WorkerServices.GetServices<IHostedService>().OfType<OutboxRelay>().Single();
            await relay.StopAsync(CancellationToken.None);
            var marked = await MarkedEventIdsAsync();
            Assert.True(marked.Count < Backlog, $"The whole backlog was sent ({marked.Count} rows) before the stop, so this proves nothing: make it larger.");

            // What reached Kafka reaches this test's consumer within moments; every such event must be marked sent.
            await Task.Delay(TimeSpan.FromSeconds(3));
            var onKafka = app.Events.Where(e => e.Topic == BookingTopics.Cancelled).Select(e => e.EventId).ToHashSet();
            var unmarked = onKafka.Where(id => !marked.Contains(id)).ToList();
            Assert.True(unmarked.Count == 0, $"{unmarked.Count} of the {onKafka.Count} events on Kafka are not marked sent, so the next relay sends them again.");
        }
        finally
        {
            app.Kafka.SetBrokerRoundTrip(KafkaMockCluster.FirstBrokerId, TimeSpan.Zero);
        }
    }

    private async Task<HashSet<string>> MarkedEventIdsAsync()
    {
        await using var db = new NpgsqlConnection(app.BookingDb);
        await db.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT event_id::text FROM outbox_messages WHERE sent_at IS NOT NULL", db);
        await using var reader = await command.ExecuteReaderAsync();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetString(0));
        }

        return ids;
    }
}
