using Booking.SagaWorker.Outbox;

namespace Booking.Tests.Saga;

public sealed class OutboxPurgeTests(SagaApp app) : IClassFixture<SagaApp>
{
    [Fact]
    public async Task Rows_sent_before_the_retention_window_are_deleted_and_unsent_recent_or_quarantined_ones_stay()
    {
        var purge = app.WorkerServices.GetRequiredService<OutboxPurge>();
        var now = DateTimeOffset.UtcNow;
        var old = now - purge.Retention - TimeSpan.FromDays(1);
        OutboxMessage Row(DateTimeOffset created, DateTimeOffset? sent, DateTimeOffset? quarantined = null) => new()
        {
            EventId = Guid.NewGuid(),
            Topic = "booking.test.purge",
            MessageKey = Guid.NewGuid().ToString("D"),
            Payload = "{\"contact\":{\"name\":\"someone\"}}",
            CreatedAt = created,
            SentAt = sent,
            QuarantinedAt = quarantined,
        };

        var oldSent = Row(old, old);
        var recentSent = Row(now, now);
        var oldQuarantined = Row(old, null, old);
        await using (var db = app.NewDbContext())
        {
            db.OutboxMessages.AddRange(oldSent, recentSent, oldQuarantined);
            await db.SaveChangesAsync();
        }

        Assert.True(await purge.PurgeAsync(CancellationToken.None) >= 1);

        await using var check = app.NewDbContext();
        var left = await check.OutboxMessages.Where(m => m.Topic == "booking.test.purge").Select(m => m.Id).ToListAsync();
        Assert.DoesNotContain(oldSent.Id, left);
        Assert.Contains(recentSent.Id, left);
        Assert.Contains(oldQuarantined.Id, left);
    }
}
