using Booking.Core.Outbox;
using Confluent.Kafka;

namespace Booking.Tests.Saga;

/// <summary>A topic Kafka fails every event of at once (no producer may write it), with the other topics fine.</summary>
public sealed class UnwritableTopicTests(SagaApp app) : IClassFixture<SagaApp>
{
    [Fact]
    public async Task Events_of_a_topic_nobody_may_write_wait_without_holding_back_the_events_of_other_topics()
    {
        // More waiting events of that topic than the relay reads at once, older than every event of the booking below.
        app.Kafka.SetTopicError(BookingTopics.Cancelled, ErrorCode.TopicAuthorizationFailed);
        var now = DateTimeOffset.UtcNow;
        await using var db = app.NewDbContext();
        var stuck = Enumerable.Range(0, 600).Select(_ => Guid.NewGuid().ToString("D")).ToList();
        db.OutboxMessages.AddRange(stuck.Select(key => new OutboxMessage
        {
            EventId = Guid.NewGuid(),
            Topic = BookingTopics.Cancelled,
            MessageKey = key,
            Payload = "{}",
            CreatedAt = now,
        }));
        await db.SaveChangesAsync();

        var performance = await app.CreatePerformanceAsync(("A", 1, 2));
        using var client = app.Client();
        var reservation = await client.ReserveAsync((await client.HoldSeatsAsync(performance, "A-1-1")).HoldId);

        Assert.Equal(ReservationStatus.Confirmed, (await app.WaitForFinalAsync(reservation.Id, TimeSpan.FromSeconds(30))).Status);
        await app.WaitForEventAsync(BookingTopics.Completed, reservation.Id, TimeSpan.FromSeconds(30));

        // The refused events are kept to go again, not quarantined: the topic, not the event, is at fault.
        db.ChangeTracker.Clear();
        Assert.Equal(stuck.Count, await db.OutboxMessages.CountAsync(m => stuck.Contains(m.MessageKey) && m.SentAt == null && m.QuarantinedAt == null));
    }
}
