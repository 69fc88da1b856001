using Booking.AppHost.Hosting;
using Booking.Core.Outbox;
using Booking.SagaWorker.Outbox;

namespace Booking.Tests.Saga;

/// <summary>An event whose delivery runs out its timeout while Kafka is down says so in its row, and goes once Kafka is back.</summary>
public sealed class DeliveryTimeoutTests(DeliveryTimeoutTests.ShortTimeout app) : IClassFixture<DeliveryTimeoutTests.ShortTimeout>
{
    /// <summary>Deliveries time out after 2 s: longer than a round waits for them, so they time out in flight.</summary>
    public sealed class ShortTimeout(Dependencies dependencies) : SagaApp(dependencies)
    {
        protected override IEnumerable<KeyValuePair<string, string?>> Settings =>
            [.. base.Settings, new(OutboxRelay.DeliveryTimeoutSetting, "00:00:02")];
    }

    [Fact]
    public async Task A_delivery_that_times_out_in_flight_records_its_attempts_and_error_and_goes_again_without_a_backoff()
    {
        // A first event sent shows the relay leading, its producer connected.
        await using var db = app.NewDbContext();
        var first = await app.AddOutboxEventAsync();
        await app.WaitForOutboxSentAsync([Guid.Parse(first.MessageKey)]);

        OutboxMessage stored;
        app.Kafka.SetBrokerDown(KafkaMockCluster.FirstBrokerId);
        try
        {
            var row = await app.AddOutboxEventAsync();
            var deadline = DateTime.UtcNow.AddSeconds(30);
            do
            {
                Assert.True(DateTime.UtcNow < deadline, "The row's delivery did not time out twice in 30 s, or its row does not say so.");
                await Task.Delay(TimeSpan.FromMilliseconds(200));
                db.ChangeTracker.Clear();
                stored = await db.OutboxMessages.AsNoTracking().SingleAsync(m => m.Id == row.Id);
            }
            while (stored.Attempts < 2);
        }
        finally
        {
            app.Kafka.SetBrokerUp(KafkaMockCluster.FirstBrokerId);
        }

        // Timed out twice, so sent again after the first timeout, at once: the delivery timeout was its wait.
        Assert.Null(stored.SentAt);
        Assert.StartsWith(nameof(Confluent.Kafka.ErrorCode.Local_MsgTimedOut), stored.LastError);
        Assert.Null(stored.NextAttemptAt);
        await app.WaitForOutboxSentAsync([Guid.Parse(stored.MessageKey)]);
    }
}
