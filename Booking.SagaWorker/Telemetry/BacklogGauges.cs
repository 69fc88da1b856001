using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Booking.Core.Data;
using Booking.SagaWorker.Outbox;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Booking.SagaWorker.Telemetry;

/// <summary>
/// The gauges an SRE reads first: outbox rows not yet on Kafka, the age of the oldest and those waiting out a backoff,
/// sagas in flight and those past their deadline. One query every few seconds feeds them; a collection never touches the database.
/// They are the same whichever worker reads them, so only the worker whose relay leads samples and reports them: a sum
/// over workers counts them once.
/// </summary>
public sealed partial class BacklogGauges(IServiceScopeFactory scopes, IMeterFactory meters, RelayLeadership leadership, ILogger<BacklogGauges> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    // In flight: a saga that has not reached COMPLETED, FAILED or CANCELLED (names as stored, see UpperEnumConverter),
    // and a COMPLETED one asked to cancel, which stays COMPLETED (and scheduled) until its compensation ends; its
    // deadline was the booking's, so it is never counted overdue. Each count has an index to read: the sagas' on
    // (state, next_attempt_at), the outbox's partial ones on its unsent, its backing-off and its quarantined rows.
    private const string Query = """
        SELECT
          (SELECT count(*) FROM outbox_messages WHERE sent_at IS NULL AND quarantined_at IS NULL),
          (SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0) FROM outbox_messages WHERE sent_at IS NULL AND quarantined_at IS NULL),
          (SELECT count(*) FROM sagas WHERE state IN ('STARTED', 'COMPENSATING', 'CANCELLING')
             OR (state = 'COMPLETED' AND next_attempt_at IS NOT NULL AND cancel_requested)),
          (SELECT count(*) FROM sagas WHERE state IN ('STARTED', 'COMPENSATING', 'CANCELLING') AND deadline_at < now()),
          (SELECT count(*) FROM outbox_messages WHERE quarantined_at IS NOT NULL),
          (SELECT count(*) FROM outbox_messages WHERE sent_at IS NULL AND quarantined_at IS NULL AND next_attempt_at > now())
        """;

    /// <summary>The last sample, which every gauge reads at a collection.</summary>
    private readonly StrongBox<Snapshot?> _current = ObservedSnapshot(meters, leadership);

    private sealed record Snapshot(long OutboxBacklog, double OldestUnsentSeconds, long SagasInFlight, long SagasOverdue, long OutboxQuarantined, long OutboxBackingOff);

    private static StrongBox<Snapshot?> ObservedSnapshot(IMeterFactory meters, RelayLeadership leadership)
    {
        var current = new StrongBox<Snapshot?>(null);
        var meter = meters.Create(BookingTelemetry.MeterName);
        // Nothing while another worker leads, or before this one's first sample.
        IEnumerable<Measurement<T>> Observe<T>(Func<Snapshot, T> value)
            where T : struct => leadership.Leading && current.Value is { } snapshot ? [new Measurement<T>(value(snapshot))] : [];
        meter.CreateObservableGauge("booking.outbox.backlog", () => Observe(s => s.OutboxBacklog), description: "Outbox rows not yet acknowledged by Kafka.");
        meter.CreateObservableGauge("booking.outbox.oldest_unsent_age", () => Observe(s => s.OldestUnsentSeconds), unit: "s", description: "Age of the oldest outbox row not yet on Kafka.");
        meter.CreateObservableGauge("booking.sagas.in_flight", () => Observe(s => s.SagasInFlight), description: "Sagas not yet COMPLETED, FAILED or CANCELLED, and cancellations of COMPLETED ones not yet done.");
        meter.CreateObservableGauge("booking.sagas.overdue", () => Observe(s => s.SagasOverdue), description: "Sagas in flight past their deadline (they should have finished or compensated).");
        meter.CreateObservableGauge("booking.outbox.quarantined", () => Observe(s => s.OutboxQuarantined), description: "Outbox rows Kafka refused for good, kept for an operator.");
        meter.CreateObservableGauge("booking.outbox.backing_off", () => Observe(s => s.OutboxBackingOff), description: "Outbox rows Kafka failed at once (a topic it does not know or lets nobody write), waiting out a backoff before they go again.");
        return current;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        do
        {
            if (!leadership.Leading)
            {
                _current.Value = null;
                continue;
            }

            try
            {
                await using var scope = scopes.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<BookingDbContext>();
                var connection = (NpgsqlConnection)db.Database.GetDbConnection();
                await connection.OpenAsync(stoppingToken).ConfigureAwait(false);
                await using var command = new NpgsqlCommand(Query, connection);
                await using var reader = await command.ExecuteReaderAsync(stoppingToken).ConfigureAwait(false);
                await reader.ReadAsync(stoppingToken).ConfigureAwait(false);
                _current.Value = new Snapshot(reader.GetInt64(0), Convert.ToDouble(reader.GetValue(1), System.Globalization.CultureInfo.InvariantCulture), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5));
            }
            catch (Exception exception) when (exception is NpgsqlException or InvalidOperationException or TimeoutException)
            {
                // The gauges keep their last values while this worker leads; the database's own health check reports the outage.
                LogSampleFailed(exception);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Backlog gauges could not be sampled")]
    private partial void LogSampleFailed(Exception exception);
}
