using System.Diagnostics.Metrics;
using Booking.AppHost.Hosting;
using Booking.Core.Outbox;

namespace Booking.Tests.Saga;

public sealed class BacklogGaugeTests(SagaApp app) : IClassFixture<SagaApp>
{
    [Fact]
    public async Task While_kafka_is_down_the_outbox_and_saga_gauges_show_the_backlog_and_it_drains_after()
    {
        var performance = await app.CreatePerformanceAsync(("A", 2, 10));
        using var client = app.Client();
        var first = await client.ReserveAsync((await client.HoldSeatsAsync(performance, "A-1-1")).HoldId);
        await app.WaitForEventAsync(BookingTopics.Completed, first.Id);

        app.Kafka.SetBrokerDown(KafkaMockCluster.FirstBrokerId);
        try
        {
            for (var seat = 2; seat <= 4; seat++)
            {
                await client.ReserveAsync((await client.HoldSeatsAsync(performance, $"A-1-{seat}")).HoldId);
            }

            // The sweep finishes the sagas without their requested events, so each booking leaves two events waiting:
            // requested and completed.
            var during = await WaitForGaugesAsync(g => g["booking.outbox.backlog"] >= 6 && g["booking.outbox.oldest_unsent_age"] >= 1);
            Assert.Equal(0, during["booking.sagas.overdue"]);
        }
        finally
        {
            app.Kafka.SetBrokerUp(KafkaMockCluster.FirstBrokerId);
        }

        var after = await WaitForGaugesAsync(g => g["booking.outbox.backlog"] == 0);
        Assert.Equal((0, 0, 0), (after["booking.outbox.oldest_unsent_age"], after["booking.sagas.in_flight"], after["booking.sagas.overdue"]));
    }

    [Fact]
    public async Task A_cancel_of_a_confirmed_booking_counts_in_flight_until_it_is_done_and_is_never_overdue()
    {
        var performance = await app.CreatePerformanceAsync(("B", 1, 2));
        using var client = app.Client();
        var booking = await client.ReserveAsync((await client.HoldSeatsAsync(performance, "B-1-1")).HoldId);
        Assert.Equal(ReservationStatus.Confirmed, (await app.WaitForFinalAsync(booking.Id)).Status);

        // As a cancel whose compensation keeps failing leaves it: still COMPLETED, asked to cancel, scheduled (an hour
        // ahead here, so no sweep finishes it during the test), its booking's deadline long past.
        await using var db = app.NewDbContext();
        var sagas = db.Sagas.Where(s => s.ReservationId == booking.Id);
        var hourAhead = DateTimeOffset.UtcNow.AddHours(1);
        await sagas.ExecuteUpdateAsync(s => s.SetProperty(x => x.CancelRequested, true).SetProperty(x => x.NextAttemptAt, hourAhead)
            .SetProperty(x => x.DeadlineAt, DateTimeOffset.UtcNow.AddHours(-1)));
        try
        {
            var during = await WaitForGaugesAsync(g => g["booking.sagas.in_flight"] == 1);
            Assert.Equal(0, during["booking.sagas.overdue"]);
        }
        finally
        {
            await sagas.ExecuteUpdateAsync(s => s.SetProperty(x => x.CancelRequested, false).SetProperty(x => x.NextAttemptAt, (DateTimeOffset?)null));
        }

        await WaitForGaugesAsync(g => g["booking.sagas.in_flight"] == 0);
    }

    [Fact]
    public async Task Only_the_worker_whose_relay_leads_reports_the_backlog_gauges()
    {
        await WaitForGaugesAsync(g => g.ContainsKey("booking.outbox.backlog"));

        // A second worker beside the first: its relay does not lead, so it reports nothing, sampled or not.
        await using var second = app.StartWorker();
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(7);
        await Gauges.WaitForAsync(second.Services.GetRequiredService<IMeterFactory>(),
            name => name.StartsWith("booking.", StringComparison.Ordinal) && !name.StartsWith("booking.sagas.consumer", StringComparison.Ordinal),
            values => values.Count == 0 ? DateTime.UtcNow >= until : throw new Xunit.Sdk.XunitException(
                $"A worker that does not lead reported {string.Join(", ", values.Select(v => $"{v.Key}={v.Value}"))}"),
            TimeSpan.FromSeconds(30), _ => "unreachable");
        await WaitForGaugesAsync(g => g.ContainsKey("booking.outbox.backlog"));
    }

    /// <summary>Reads this worker's backlog gauges (the meters of its own host only) until they satisfy the condition.</summary>
    private Task<Dictionary<string, double>> WaitForGaugesAsync(Func<Dictionary<string, double>, bool> condition) =>
        Gauges.WaitForAsync(app.WorkerServices.GetRequiredService<IMeterFactory>(),
            name => name.StartsWith("booking.", StringComparison.Ordinal),
            values => values.Count >= 4 && condition(values),
            // Wide: librdkafka's reconnect backoff (up to 10 s) and the 5 s sampling both lie between the broker's
            // return and a drained backlog.
            TimeSpan.FromSeconds(60),
            values => $"Gauges never got there: {string.Join(", ", values.Select(v => $"{v.Key}={v.Value}"))}. The worker's last warnings:{Environment.NewLine}{app.WorkerWarnings}");
}
