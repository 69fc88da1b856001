using Booking.Core.Outbox;

namespace Booking.Tests.Saga;

public sealed class KafkaOutageTests(SagaApp app) : IClassFixture<SagaApp>
{
    [Fact]
    public async Task While_kafka_is_down_bookings_are_accepted_and_every_event_is_delivered_after_it_comes_back()
    {
        var performance = await app.CreatePerformanceAsync(("A", 2, 10));
        using var client = app.Client();
        // Warm up: one booking through, so the producer and consumers are connected before the outage.
        var first = await client.ReserveAsync((await client.HoldSeatsAsync(performance, "A-1-1")).HoldId);
        await app.WaitForEventAsync(BookingTopics.Completed, first.Id);

        app.Kafka.SetBrokerDown(1);
        var during = new List<Guid>();
        try
        {
            for (var seat = 2; seat <= 9; seat++)
            {
                during.Add((await client.ReserveAsync((await client.HoldSeatsAsync(performance, $"A-1-{seat}")).HoldId)).Id);
            }

            await Task.Delay(TimeSpan.FromSeconds(2));
            await using var db = app.NewDbContext();
            var keys = during.Select(id => id.ToString()).ToList();
            // Nothing could be acknowledged, so nothing is marked sent.
            Assert.False(await db.OutboxMessages.AnyAsync(m => keys.Contains(m.MessageKey) && m.SentAt != null));
        }
        finally
        {
            app.Kafka.SetBrokerUp(1);
        }

        foreach (var id in during)
        {
            Assert.Equal(ReservationStatus.Confirmed, (await app.WaitForFinalAsync(id, TimeSpan.FromSeconds(60))).Status);
            await app.WaitForEventAsync(BookingTopics.Completed, id, TimeSpan.FromSeconds(60));
        }

        await app.WaitForOutboxSentAsync(during);
    }
}
