using Booking.Core.Outbox;
using Confluent.Kafka;

namespace Booking.Tests.Saga;

/// <summary>
/// The whole system with sagas the sweep resumes only after 5 minutes without progress: a saga whose requested event
/// never reaches a worker runs when a test makes it due, not 3 s after its reservation however slow the machine is.
/// </summary>
public sealed class LateResumeSagaApp(Dependencies dependencies) : SagaApp(dependencies)
{
    protected override IEnumerable<KeyValuePair<string, string?>> Settings => [.. base.Settings, new("Booking:SagaResumeAfter", "00:05:00")];
}

/// <summary>Produce requests the broker refuses: a producer that fails for good, an event refused for good.</summary>
public sealed class ProduceRefusalTests(LateResumeSagaApp app) : IClassFixture<LateResumeSagaApp>
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

        // Only this test's rows: the class's other test leaves a quarantined row, which is never sent.
        await app.WaitForOutboxSentAsync([first.Id, .. after]);
    }

    [Fact]
    public async Task An_event_the_broker_refuses_again_when_sent_alone_is_quarantined_and_the_events_behind_it_are_sent()
    {
        var performance = await app.CreatePerformanceAsync(("B", 2, 10));
        using var client = app.Client();
        var first = await client.ReserveAsync((await client.HoldSeatsAsync(performance, "B-1-1")).HoldId);
        await app.WaitForEventAsync(BookingTopics.Completed, first.Id);

        // Refused every time until it is quarantined, however often librdkafka tries it on its own, then no longer.
        app.Kafka.FailNextProduceRequests([.. Enumerable.Repeat(ErrorCode.PolicyViolation, 50)]);
        var refused = await client.ReserveAsync((await client.HoldSeatsAsync(performance, "B-1-2")).HoldId);
        // Its requested event never reaches the worker, and the sweep does not resume its saga (see the fixture) before
        // the errors left over are cleared, or its completed event could take one and be quarantined too.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await QuarantinedAsync(refused.Id)).Count == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, $"The refused event was not quarantined in 30 s. The worker's last warnings:{Environment.NewLine}{app.WorkerWarnings}");
            await Task.Delay(20);
        }

        app.Kafka.ClearProduceErrors();
        await ResumeSagaNowAsync(refused.Id);
        var behind = await client.ReserveAsync((await client.HoldSeatsAsync(performance, "B-1-3")).HoldId);
        await app.WaitForEventAsync(BookingTopics.Completed, behind.Id, TimeSpan.FromSeconds(30));

        var quarantined = Assert.Single(await QuarantinedAsync(first.Id, refused.Id, behind.Id));
        Assert.Equal((refused.Id.ToString("D"), BookingTopics.Requested), (quarantined.MessageKey, quarantined.Topic));
        Assert.Contains("PolicyViolation", quarantined.LastError, StringComparison.Ordinal);
        Assert.Equal(ReservationStatus.Confirmed, (await app.WaitForFinalAsync(refused.Id)).Status);
        await app.WaitForEventAsync(BookingTopics.Completed, refused.Id);
    }

    [Fact]
    public async Task A_refusal_of_the_request_that_the_events_take_alone_quarantines_none_of_them()
    {
        var performance = await app.CreatePerformanceAsync(("C", 2, 10));
        using var client = app.Client();
        var first = await client.ReserveAsync((await client.HoldSeatsAsync(performance, "C-1-1")).HoldId);
        await app.WaitForEventAsync(BookingTopics.Completed, first.Id);

        // As a batch over a topic's size limit is refused whole though each of its events is small.
        app.Kafka.FailNextProduceRequests(ErrorCode.MsgSizeTooLarge);
        var reservations = new List<Guid>();
        for (var seat = 2; seat <= 4; seat++)
        {
            reservations.Add((await client.ReserveAsync((await client.HoldSeatsAsync(performance, $"C-1-{seat}")).HoldId)).Id);
        }

        foreach (var id in reservations)
        {
            await app.WaitForEventAsync(BookingTopics.Completed, id, TimeSpan.FromSeconds(30));
        }

        Assert.Empty(await QuarantinedAsync([first.Id, .. reservations]));
        await app.WaitForOutboxSentAsync([first.Id, .. reservations]);
    }

    /// <summary>Makes the reservation's saga, which has not run yet, due for the saga sweeper.</summary>
    private async Task ResumeSagaNowAsync(Guid reservationId)
    {
        await using var db = app.NewDbContext();
        Assert.Equal(1, await db.Sagas.Where(s => s.ReservationId == reservationId && s.State == SagaState.Started)
            .ExecuteUpdateAsync(set => set.SetProperty(s => s.NextAttemptAt, DateTimeOffset.UtcNow)));
    }

    private async Task<List<OutboxMessage>> QuarantinedAsync(params Guid[] reservationIds)
    {
        await using var db = app.NewDbContext();
        var keys = reservationIds.Select(id => id.ToString("D")).ToList();
        return await db.OutboxMessages.AsNoTracking().Where(m => keys.Contains(m.MessageKey) && m.QuarantinedAt != null).ToListAsync();
    }
}
