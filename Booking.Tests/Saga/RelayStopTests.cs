using Booking.AppHost.Hosting;
using Booking.Core.Outbox;
using Booking.SagaWorker.Outbox;

namespace Booking.Tests.Saga;

public sealed class RelayStopTests(SagaApp app) : IClassFixture<SagaApp>
{
    [Fact]
    public async Task A_stopping_relay_marks_sent_the_events_Kafka_acknowledges_after_their_round_left_them_in_flight()
    {
        await using var db = app.NewDbContext();
        try
        {
            // Kafka answers after 3 s: longer than a round waits for a delivery, shorter than the relay's wait when it stops.
            var (relay, row) = await app.LeaveOutboxEventInFlightAsync(TimeSpan.FromSeconds(3));

            // Then the worker stops.
            var stopping = relay.StopAsync(CancellationToken.None);

            // While it waits for Kafka's answer, the stopping relay still holds the leader's lock: no relay taking over
            // sends the row again meanwhile. It may give the lock up only once the row is marked sent (a machine that
            // stalled here past Kafka's answer sees that; the lock is read first, so a mark seen after it is not late).
            await Task.Delay(TimeSpan.FromMilliseconds(500));
            var leading = await app.RelayLeaderAsync() is not null;
            db.ChangeTracker.Clear();
            Assert.True(leading || (await db.OutboxMessages.SingleAsync(m => m.Id == row.Id)).SentAt is not null,
                "The stopping relay gave up the leader's lock before Kafka answered the delivery it left in flight.");
            await stopping;

            db.ChangeTracker.Clear();
            Assert.NotNull((await db.OutboxMessages.SingleAsync(m => m.Id == row.Id)).SentAt);
        }
        finally
        {
            app.Kafka.SetBrokerRoundTrip(KafkaMockCluster.FirstBrokerId, TimeSpan.Zero);
        }
    }
}
