using Booking.Core.Outbox;

namespace Booking.Tests.Saga;

[Collection(HeavyLoad.Name)]
public sealed class OutboxQuarantineTests(SagaApp app, ITestOutputHelper output) : IClassFixture<SagaApp>
{
    [Fact]
    public async Task An_event_kafka_refuses_for_good_is_quarantined_and_a_thousand_events_behind_it_are_sent_once_within_thirty_seconds()
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

        const int Bookings = 1000;
        var performance = await app.CreatePerformanceAsync(("A", 50, 20));
        var reservations = new System.Collections.Concurrent.ConcurrentBag<Guid>();
        var clients = Enumerable.Range(0, 50).Select(i => app.Client($"booker-{i}")).ToArray();
        await Parallel.ForEachAsync(Enumerable.Range(0, Bookings), new ParallelOptions { MaxDegreeOfParallelism = 50 }, async (i, _) =>
        {
            var client = clients[i % clients.Length];
            reservations.Add((await client.ReserveAsync((await client.HoldSeatsAsync(performance, $"A-{(i / 20) + 1}-{(i % 20) + 1}")).HoldId)).Id);
        });
        foreach (var client in clients)
        {
            client.Dispose();
        }

        var accepted = System.Diagnostics.Stopwatch.StartNew();
        var keys = reservations.Select(id => id.ToString("D")).ToHashSet();
        while (app.Events.Where(e => e.Topic == BookingTopics.Completed && keys.Contains(e.Key)).Select(e => e.Key).Distinct().Count() < Bookings)
        {
            // Wide: a thousand sagas and their events on two cores shared with other classes; a row that blocked the
            // queue would keep them back for ever.
            Assert.True(accepted.Elapsed < TimeSpan.FromSeconds(90), "Not every completed event arrived within 90 s of the last booking.");
            await Task.Delay(200);
        }

        output.WriteLine($"{Bookings} completed events {accepted.Elapsed.TotalSeconds:F1} s after the last booking was accepted");

        await using var check = app.NewDbContext();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await check.OutboxMessages.CountAsync(m => m.SentAt == null && m.QuarantinedAt == null && m.Topic != BookingTopics.Requested) > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "Rows behind the refused one are still unsent.");
            await Task.Delay(200);
        }

        var quarantined = await check.OutboxMessages.AsNoTracking().SingleAsync(m => m.Id == poison.Id);
        Assert.NotNull(quarantined.QuarantinedAt);
        Assert.Null(quarantined.SentAt);
        Assert.Contains("MsgSizeTooLarge", quarantined.LastError, StringComparison.Ordinal);
        Assert.Equal(1, await check.OutboxMessages.CountAsync(m => m.QuarantinedAt != null));
        // Marked sent once acknowledged: no batch is published again and again behind the refused row (one position
        // on Kafka each; the recorder may read one twice after a rebalance of its group).
        Assert.All(reservations, id => Assert.Single(app.Events.Where(e => e.Topic == BookingTopics.Completed && e.Key == id.ToString("D")).Select(e => e.Position).Distinct()));
    }
}
