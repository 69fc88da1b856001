using Booking.AppHost.Hosting;
using Booking.Core.Outbox;
using Booking.SagaWorker.Outbox;

namespace Booking.Tests.Saga;

public sealed class RelayStopTests(SagaApp app) : IClassFixture<SagaApp>
{
    [Fact]
    public async Task A_stopping_relay_marks_sent_the_events_Kafka_acknowledges_after_their_round_left_them_in_flight()
    {
        // A first event sent shows the relay leading, its producer connected.
        await using var db = app.NewDbContext();
        var first = await AddEventAsync(db);
        await app.WaitForOutboxSentAsync([Guid.Parse(first.MessageKey)]);

        // Kafka answers after 3 s: longer than a round waits for a delivery, shorter than the relay's wait when it stops.
        app.Kafka.SetBrokerRoundTrip(KafkaMockCluster.FirstBrokerId, TimeSpan.FromSeconds(3));
        try
        {
            var row = await AddEventAsync(db);

            // Woken by the insert, the relay sends the row and, unanswered, leaves it in flight; then the worker stops.
            await Task.Delay(TimeSpan.FromSeconds(1));
            var relay = app.WorkerServices.GetServices<IHostedService>().OfType<OutboxRelay>().Single();
            await relay.StopAsync(CancellationToken.None);

            db.ChangeTracker.Clear();
            Assert.NotNull((await db.OutboxMessages.SingleAsync(m => m.Id == row.Id)).SentAt);
        }
        finally
        {
            app.Kafka.SetBrokerRoundTrip(KafkaMockCluster.FirstBrokerId, TimeSpan.Zero);
        }
    }

    private static async Task<OutboxMessage> AddEventAsync(BookingDbContext db)
    {
        var row = new OutboxMessage
        {
            EventId = Guid.NewGuid(),
            Topic = BookingTopics.Cancelled,
            MessageKey = Guid.NewGuid().ToString("D"),
            Payload = "{}",
            CreatedAt = DateTimeOffset.UtcNow,
        };
        db.OutboxMessages.Add(row);
        await db.SaveChangesAsync();
        return row;
    }
}
