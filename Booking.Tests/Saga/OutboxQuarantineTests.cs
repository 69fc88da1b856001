using Booking.Core.Data;
using Booking.Core.Outbox;
using Booking.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Booking.Tests.Saga;

public sealed class OutboxQuarantineTests(SagaApp app) : IClassFixture<SagaApp>
{
    [Fact]
    public async Task An_event_kafka_refuses_for_good_is_quarantined_and_the_events_behind_it_are_sent_once()
    {
        // An event over the producer's 1 MB message.max.bytes, first in line.
        var poison = new OutboxMessage
        {
            EventId = Guid.NewGuid(),
            Topic = BookingTopics.Completed,
            MessageKey = Guid.NewGuid().ToString("D"),
            Payload = $"{{\"pad\":\"{new string('x', 1_200_000)}\"}}",
            CreatedAt = DateTimeOffset.UtcNow,
        };
        await using (var db = app.NewDbContext())
        {
            db.OutboxMessages.Add(poison);
            await db.SaveChangesAsync();
        }

        var performance = await app.CreatePerformanceAsync(("A", 2, 10));
        using var client = app.Client();
        var reservations = new List<Guid>();
        for (var seat = 1; seat <= 20; seat++)
        {
            reservations.Add((await client.ReserveAsync((await client.HoldSeatsAsync(performance, $"A-{1 + ((seat - 1) / 10)}-{1 + ((seat - 1) % 10)}")).HoldId)).Id);
        }

        foreach (var id in reservations)
        {
            await app.WaitForEventAsync(BookingTopics.Completed, id, TimeSpan.FromSeconds(30));
        }

        await using var check = app.NewDbContext();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await check.OutboxMessages.CountAsync(m => m.SentAt == null && m.QuarantinedAt == null) > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "Rows behind the refused one are still unsent.");
            await Task.Delay(200);
        }

        var quarantined = await check.OutboxMessages.AsNoTracking().SingleAsync(m => m.Id == poison.Id);
        Assert.NotNull(quarantined.QuarantinedAt);
        Assert.Null(quarantined.SentAt);
        Assert.Contains("MsgSizeTooLarge", quarantined.LastError, StringComparison.Ordinal);
        Assert.Equal(1, await check.OutboxMessages.CountAsync(m => m.QuarantinedAt != null));
        // Marked sent once acknowledged: no batch is published again and again behind the refused row.
        Assert.All(reservations, id => Assert.Equal(1, app.Events.Count(e => e.Topic == BookingTopics.Completed && e.Key == id.ToString("D"))));
    }
}
