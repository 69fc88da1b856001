using System.Collections.Concurrent;
using System.Diagnostics;
using Booking.Core.Outbox;
using HdrHistogram;
using Npgsql;

namespace Booking.LoadTest;

/// <summary>Percentiles (ms) of one stage of the booking path.</summary>
public sealed record StageResult(string Stage, long Count, double P50Ms, double P95Ms, double P99Ms);

/// <summary>
/// Where a booking's time goes: the load tool's own timings (the hold and reserve requests, when each event was seen
/// on Kafka) joined with what the system recorded (the saga's step log, when the reservation was confirmed). Every
/// clock is this machine's: PostgreSQL's timestamps follow its clock, which the services measure themselves against.
/// </summary>
public sealed class Breakdown
{
    private readonly ConcurrentDictionary<Guid, Timing> _timings = new();

    private sealed record Timing(TimeSpan Hold, TimeSpan Reserve, DateTimeOffset ReservedAt, TimeSpan Total);

    /// <summary>A booking the load tool saw through: its two requests, when the reserve was answered, and its whole time.</summary>
    public void Booked(Guid reservationId, TimeSpan hold, TimeSpan reserve, DateTimeOffset reservedAt, TimeSpan total) =>
        _timings[reservationId] = new Timing(hold, reserve, reservedAt, total);

    public async Task<IReadOnlyList<StageResult>> MeasureAsync(string bookingDb, EventWatcher events, CancellationToken cancellationToken)
    {
        var ids = _timings.Keys.ToArray();
        var stages = new Dictionary<string, LongHistogram>(StringComparer.Ordinal);
        void Add(string stage, TimeSpan value)
        {
            if (!stages.TryGetValue(stage, out var histogram))
            {
                stages[stage] = histogram = new LongHistogram(TimeSpan.FromMinutes(5).Ticks / 10, 3);
            }

            histogram.RecordValue(Math.Clamp(value.Ticks / 10, 0, histogram.HighestTrackableValue));
        }

        var steps = await StepsAsync(bookingDb, ids, cancellationToken).ConfigureAwait(false);
        foreach (var (id, timing) in _timings)
        {
            Add("1. hold request", timing.Hold);
            Add("2. reserve request (pin, group commit)", timing.Reserve);
            var requested = events.SeenAt(BookingTopics.Requested, id);
            var completed = events.SeenAt(BookingTopics.Completed, id);
            if (requested is { } requestedAt)
            {
                Add("3. reserve answered -> requested event seen (outbox relay)", requestedAt - timing.ReservedAt);
            }

            if (steps.TryGetValue(id, out var saga))
            {
                var forward = saga.Steps.Where(s => s.Name != "CompleteReservation").ToList();
                if (requested is { } seen && forward.Count > 0)
                {
                    Add("4. requested event -> first saga step (worker queueing)", forward.Min(s => s.Started) - seen);
                }

                foreach (var step in forward)
                {
                    Add($"5. step {step.Name}", step.Finished - step.Started);
                }

                if (saga.ConfirmedAt is { } confirmedAt)
                {
                    if (forward.Count > 0)
                    {
                        Add("6. last step -> CONFIRMED (rest of the batch)", confirmedAt - forward.Max(s => s.Finished));
                    }

                    if (completed is { } completedAt)
                    {
                        Add("7. CONFIRMED -> completed event seen (commit, outbox relay)", completedAt - confirmedAt);
                    }
                }
            }

            Add("8. booking, end to end", timing.Total);
        }

        return [.. stages.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => new StageResult(
            s.Key, s.Value.TotalCount, s.Value.GetValueAtPercentile(50) / 1000.0, s.Value.GetValueAtPercentile(95) / 1000.0, s.Value.GetValueAtPercentile(99) / 1000.0))];
    }

    private sealed record Step(string Name, DateTimeOffset Started, DateTimeOffset Finished);

    private sealed record SagaTimes(DateTimeOffset? ConfirmedAt, List<Step> Steps);

    private static async Task<Dictionary<Guid, SagaTimes>> StepsAsync(string bookingDb, Guid[] ids, CancellationToken cancellationToken)
    {
        var result = new Dictionary<Guid, SagaTimes>();
        await using var connection = new NpgsqlConnection(bookingDb);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(
            """
            SELECT r.id, r.confirmed_at, s.name, s.started_at, s.finished_at
            FROM reservations r JOIN saga_steps s ON s.reservation_id = r.id
            WHERE r.id = ANY($1) AND s.finished_at IS NOT NULL AND s.status = 'SUCCEEDED'
            """, connection) { Parameters = { new() { Value = ids } } };
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var id = reader.GetGuid(0);
            if (!result.TryGetValue(id, out var saga))
            {
                result[id] = saga = new SagaTimes(reader.IsDBNull(1) ? null : reader.GetFieldValue<DateTimeOffset>(1), []);
            }

            saga.Steps.Add(new Step(reader.GetString(2), reader.GetFieldValue<DateTimeOffset>(3), reader.GetFieldValue<DateTimeOffset>(4)));
        }

        return result;
    }
}
