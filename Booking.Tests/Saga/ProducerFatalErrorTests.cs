using Booking.Core.Outbox;
using Confluent.Kafka;

namespace Booking.Tests.Saga;

public sealed class ProducerFatalErrorTests(SagaApp app) : IClassFixture<SagaApp>
{
    [Fact]
    public async Task After_the_relays_producer_fails_for_good_a_new_one_delivers_every_event()
    {
        var performance = await app.CreatePerformanceAsync(("A", 2, 10));
        using var client = app.Client();
        var first = await client.ReserveAsync((await client.HoldSeatsAsync(performance, "A-1-1")).HoldId);
        await app.WaitForEventAsync(BookingTopics.Completed, first.Id);

        // The broker answers the next produce request with a sequence it did not expect: an idempotent producer cannot
        // reason about its messages after that, raises a fatal error and fails every message from then on.
        app.Kafka.FailNextProduceRequests(ErrorCode.OutOfOrderSequenceNumber);
        var after = new List<Guid>();
        for (var seat = 2; seat <= 4; seat++)
        {
            after.Add((await client.ReserveAsync((await client.HoldSeatsAsync(performance, $"A-1-{seat}")).HoldId)).Id);
        }

        foreach (var id in after)
        {
            Assert.Equal(ReservationStatus.Confirmed, (await app.WaitForFinalAsync(id, TimeSpan.FromSeconds(30))).Status);
            await app.WaitForEventAsync(BookingTopics.Completed, id, TimeSpan.FromSeconds(30));
        }

        await using var db = app.NewDbContext();
        Assert.Equal(0, await db.OutboxMessages.CountAsync(m => m.SentAt == null));
    }
}
