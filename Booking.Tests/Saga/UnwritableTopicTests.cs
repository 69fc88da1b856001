using System.Diagnostics.Metrics;
using Booking.Core.Outbox;
using Confluent.Kafka;

namespace Booking.Tests.Saga;

/// <summary>A topic Kafka fails every event of at once (no producer may write it), with the other topics fine.</summary>
public sealed class UnwritableTopicTests(SagaApp app) : IClassFixture<SagaApp>
{
    /// <summary>More than the relay reads at once (500), and than it keeps in flight (5,000).</summary>
    private const int Stuck = 5_100;

    [Fact]
    public async Task Events_of_a_topic_nobody_may_write_wait_without_holding_back_the_events_of_other_topics_and_go_once_it_takes_them()
    {
        app.SetTopicError(BookingTopics.Cancelled, ErrorCode.TopicAuthorizationFailed);
        try
        {
            // The waiting events are older than every event of the booking below; one reservation among them has a
            // later event, of a topic Kafka takes, which must wait behind its earlier one.
            var now = DateTimeOffset.UtcNow;
            await using var db = app.NewDbContext();
            var stuck = Enumerable.Range(0, Stuck).Select(_ => Guid.NewGuid().ToString("D")).ToList();
            db.OutboxMessages.AddRange(stuck.Select(key => Event(BookingTopics.Cancelled, key, now)));
            await db.SaveChangesAsync();
            var behind = Event(BookingTopics.Failed, stuck[0], now);
            db.OutboxMessages.Add(behind);
            await db.SaveChangesAsync();

            var performance = await app.CreatePerformanceAsync(("A", 1, 2));
            using var client = app.Client();
            var reservation = await client.ReserveAsync((await client.HoldSeatsAsync(performance, "A-1-1")).HoldId);
            Assert.Equal(ReservationStatus.Confirmed, (await app.WaitForFinalAsync(reservation.Id, TimeSpan.FromSeconds(60))).Status);
            // The booking's events are read once each waiting one has failed once and backs off: eleven full rounds
            // of the relay, about a second each here, several times that when the suite's start loads the machine.
            // What shows they were not held back is that they go while every waiting one is still unsent (below).
            await app.WaitForEventAsync(BookingTopics.Completed, reservation.Id, TimeSpan.FromSeconds(90));

            // Kept to go again, not quarantined (the topic, not the event, is at fault), each with why and when.
            db.ChangeTracker.Clear();
            var waiting = db.OutboxMessages.AsNoTracking().Where(m => stuck.Contains(m.MessageKey) && m.SentAt == null && m.QuarantinedAt == null);
            Assert.Equal(Stuck + 1, await waiting.CountAsync());
            var tried = await waiting.Where(m => m.Topic == BookingTopics.Cancelled && m.Attempts > 0).ToListAsync();
            Assert.NotEmpty(tried);
            Assert.All(tried, m => Assert.StartsWith(nameof(ErrorCode.TopicAuthorizationFailed), m.LastError, StringComparison.Ordinal));
            Assert.All(tried, m => Assert.NotNull(m.NextAttemptAt));
            Assert.DoesNotContain(app.Events, e => e.Key == stuck[0]);
            await Gauges.WaitForAsync(app.WorkerServices.GetRequiredService<IMeterFactory>(), name => name == "booking.outbox.backing_off",
                values => values.GetValueOrDefault("booking.outbox.backing_off") > 0, TimeSpan.FromSeconds(30),
                values => $"No backing-off rows counted: {string.Join(", ", values.Select(v => $"{v.Key}={v.Value}"))}");

            // The topic takes events again (the producer finds out by itself: no metadata asked for it here); an
            // operator sends the waiting ones now rather than at their next attempt.
            app.Kafka.SetTopicError(BookingTopics.Cancelled, ErrorCode.NoError);
            await db.OutboxMessages.Where(m => m.SentAt == null && m.NextAttemptAt != null)
                .ExecuteUpdateAsync(set => set.SetProperty(m => m.NextAttemptAt, (DateTimeOffset?)null));
            await app.WaitForOutboxSentAsync(stuck.Select(Guid.Parse), TimeSpan.FromSeconds(60));
            await app.WaitForEventAsync(BookingTopics.Failed, Guid.Parse(stuck[0]), TimeSpan.FromSeconds(30));
        }
        finally
        {
            app.SetTopicError(BookingTopics.Cancelled, ErrorCode.NoError);
        }
    }

    [Fact]
    public async Task Events_that_keep_failing_take_only_part_of_each_round_however_many_are_due()
    {
        app.SetTopicError(BookingTopics.Cancelled, ErrorCode.TopicAuthorizationFailed);
        var now = DateTimeOffset.UtcNow;
        var stuck = Enumerable.Range(0, Stuck).Select(_ => Guid.NewGuid().ToString("D")).ToList();
        using var due = new CancellationTokenSource();
        Task? keepingDue = null;
        try
        {
            // Failed before and due again, all of them, all the time: older than the booking's events, and more than a round.
            await using var db = app.NewDbContext();
            db.OutboxMessages.AddRange(stuck.Select(key =>
            {
                var row = Event(BookingTopics.Cancelled, key, now);
                (row.NextAttemptAt, row.Attempts) = (now, 1);
                return row;
            }));
            await db.SaveChangesAsync();
            keepingDue = KeepDueAsync(stuck, due.Token);

            var performance = await app.CreatePerformanceAsync(("B", 1, 2));
            using var client = app.Client();
            var reservation = await client.ReserveAsync((await client.HoldSeatsAsync(performance, "B-1-1")).HoldId);
            // Without the cap, the booking's events never go while the rows stay due: the bounds only have to outlast
            // a loaded machine (this test keeps the relay and PostgreSQL busy itself). Its rows marked sent are the
            // relay's own record of Kafka's acknowledgements.
            Assert.Equal(ReservationStatus.Confirmed, (await app.WaitForFinalAsync(reservation.Id, TimeSpan.FromSeconds(60))).Status);
            await app.WaitForOutboxSentAsync([reservation.Id], TimeSpan.FromSeconds(60));

            // They did keep failing meanwhile: none went, and rounds tried them again (or the test would prove nothing).
            var rows = db.OutboxMessages.AsNoTracking().Where(m => stuck.Contains(m.MessageKey));
            Assert.Equal(0, await rows.CountAsync(m => m.SentAt != null || m.QuarantinedAt != null));
            Assert.True(await rows.AnyAsync(m => m.Attempts > 1), "No waiting row was tried again while the booking went through.");
        }
        finally
        {
            await due.CancelAsync();
            if (keepingDue is not null)
            {
                await keepingDue;
            }

            app.SetTopicError(BookingTopics.Cancelled, ErrorCode.NoError);
            await using var db = app.NewDbContext();
            await db.OutboxMessages.Where(m => stuck.Contains(m.MessageKey)).ExecuteDeleteAsync();
        }
    }

    [Fact]
    public async Task Events_that_failed_before_go_round_after_round_once_kafka_takes_them_not_one_share_a_second()
    {
        // Backed off after failing (a topic Kafka refused and now takes again), all due, and nothing else to send: a
        // relay that waited its poll between shares of 100 would need 50 s for them.
        const int Waiting = 5_000;
        var now = DateTimeOffset.UtcNow;
        var keys = Enumerable.Range(0, Waiting).Select(_ => Guid.NewGuid()).ToList();
        await using (var db = app.NewDbContext())
        {
            db.OutboxMessages.AddRange(keys.Select(key =>
            {
                var row = Event(BookingTopics.Failed, key.ToString("D"), now);
                (row.NextAttemptAt, row.Attempts, row.LastError) = (now, 1, "TopicAuthorizationFailed: from before");
                return row;
            }));
            await db.SaveChangesAsync();
        }

        await app.WaitForOutboxSentAsync(keys, TimeSpan.FromSeconds(30));
    }

    /// <summary>Puts the rows' next attempt back to now, again and again, until told to stop.</summary>
    private async Task KeepDueAsync(List<string> keys, CancellationToken stop)
    {
        await using var db = app.NewDbContext();
        while (!stop.IsCancellationRequested)
        {
            var now = DateTimeOffset.UtcNow;
            await db.OutboxMessages.Where(m => keys.Contains(m.MessageKey) && m.SentAt == null && m.NextAttemptAt > now)
                .ExecuteUpdateAsync(set => set.SetProperty(m => m.NextAttemptAt, now), CancellationToken.None);
            await Task.Delay(TimeSpan.FromMilliseconds(50), CancellationToken.None);
        }
    }

    private static OutboxMessage Event(string topic, string key, DateTimeOffset now) => new()
    {
        EventId = Guid.NewGuid(),
        Topic = topic,
        MessageKey = key,
        Payload = "{}",
        CreatedAt = now,
    };
}
