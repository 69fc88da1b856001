using Booking.SagaWorker.Outbox;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace Booking.Tests.Saga;

/// <summary>
/// Runs on the API alone: no outbox relay works on this database, so a row written unsent stays unsent (beside a
/// saga worker, its relay sent that row during the test and the purge rightly deleted it).
/// </summary>
public sealed class OutboxPurgeTests(BookingApp app) : IClassFixture<BookingApp>
{
    [Fact]
    public async Task Rows_sent_or_quarantined_before_their_retention_windows_are_deleted_and_unsent_or_recent_ones_stay()
    {
        // The purge runs a retention window and a day ahead: every row written so far, in this class's database, is old
        // to it, and rows are written in id order, as they are in a running system.
        var configuration = app.Service<IConfiguration>();
        var scopes = app.Service<IServiceScopeFactory>();
        var retention = new OutboxPurge(scopes, configuration, TimeProvider.System, NullLogger<OutboxPurge>.Instance).Retention;
        var ahead = retention + TimeSpan.FromDays(1);
        var purge = new OutboxPurge(scopes, configuration, new ShiftedClock(ahead), NullLogger<OutboxPurge>.Instance);
        var now = DateTimeOffset.UtcNow;
        // Kept rows stand before and between the old sent ones, so the walk must pass them.
        var oldQuarantined = Row(now, null, now);
        var quarantinedLongAgo = Row(now, null, now - purge.QuarantineRetention);
        var oldSent = Row(now, now);
        var oldUnsent = Row(now, null);
        var oldSentToo = Row(now, now);
        var recentSent = Row(now + ahead, now + ahead);
        var alsoOldButAfterARecentOne = Row(now, now);
        foreach (var row in new[] { oldQuarantined, quarantinedLongAgo, oldSent, oldUnsent, oldSentToo, recentSent, alsoOldButAfterARecentOne })
        {
            await using var db = app.NewDbContext();
            db.OutboxMessages.Add(row);
            await db.SaveChangesAsync();
        }

        Assert.True(await purge.PurgeAsync(CancellationToken.None) >= 3);

        await using var check = app.NewDbContext();
        var left = await check.OutboxMessages.Where(m => m.Topic == "booking.test.purge").Select(m => m.Id).ToListAsync();
        Assert.Equal([oldQuarantined.Id, oldUnsent.Id, recentSent.Id, alsoOldButAfterARecentOne.Id], left.Order());
    }

    [Fact]
    public async Task A_quarantine_retention_shorter_than_the_sent_rows_one_is_kept_to()
    {
        var settings = new ConfigurationBuilder()
            .AddConfiguration(app.Service<IConfiguration>())
            .AddInMemoryCollection([new("Outbox:Retention", "7.00:00:00"), new("Outbox:QuarantineRetention", "1.00:00:00")])
            .Build();
        var purge = new OutboxPurge(app.Service<IServiceScopeFactory>(), settings, new ShiftedClock(TimeSpan.FromDays(2)), NullLogger<OutboxPurge>.Instance);
        var now = DateTimeOffset.UtcNow;
        var quarantined = Row(now, null, now, "booking.test.purge-quarantined");
        await using var db = app.NewDbContext();
        db.OutboxMessages.Add(quarantined);
        await db.SaveChangesAsync();

        // Two days on, the row was quarantined past its one day, though written inside the sent rows' seven.
        await purge.PurgeAsync(CancellationToken.None);

        Assert.False(await db.OutboxMessages.AnyAsync(m => m.Id == quarantined.Id));
    }

    [Theory]
    [InlineData("Outbox:Retention", "-7.00:00:00")]
    [InlineData("Outbox:QuarantineRetention", "00:00:00")]
    [InlineData("Outbox:PurgeInterval", "00:00:00")]
    public void A_retention_or_interval_of_zero_or_less_is_refused_at_start_up_saying_which(string setting, string value)
    {
        var settings = new ConfigurationBuilder().AddInMemoryCollection([new(setting, value)]).Build();

        var refusal = Assert.Throws<InvalidOperationException>(() => new OutboxPurge(app.Service<IServiceScopeFactory>(), settings, TimeProvider.System, NullLogger<OutboxPurge>.Instance));

        Assert.Equal($"{setting} must be above zero; it is {TimeSpan.Parse(value, System.Globalization.CultureInfo.InvariantCulture)}.", refusal.Message);
    }

    private static OutboxMessage Row(DateTimeOffset created, DateTimeOffset? sent, DateTimeOffset? quarantined = null, string topic = "booking.test.purge") => new()
    {
        EventId = Guid.NewGuid(),
        Topic = topic,
        MessageKey = Guid.NewGuid().ToString("D"),
        Payload = "{\"contact\":{\"name\":\"someone\"}}",
        CreatedAt = created,
        SentAt = sent,
        QuarantinedAt = quarantined,
    };
}
