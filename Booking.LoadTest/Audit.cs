using Booking.Core.Outbox;
using Npgsql;
using StackExchange.Redis;

namespace Booking.LoadTest;

public sealed record AuditCheck(string Name, bool Passed, string Detail);

/// <summary>
/// The end-of-run correctness audit of BENCHMARK.md. A fast run with one inconsistency is a failed run. A stop
/// (Ctrl-C) ends its waits and queries at once: nothing of a stopped run is reported.
/// </summary>
public sealed class Audit(SystemUnderTest system, EventWatcher events, CancellationToken stopping)
{
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(90);

    public List<AuditCheck> Checks { get; } = [];

    public bool Clean => Checks.Count > 0 && Checks.All(c => c.Passed);

    /// <summary>Checks a performance that only had holds given back: every one of its seats is in Redis and available again.</summary>
    public async Task HoldPhaseAsync(string mode, string performanceId, int seatCount)
    {
        await using var redis = await ConnectionMultiplexer.ConnectAsync(system.ConnectionStrings["redis"]).ConfigureAwait(false);
        var seats = await redis.GetDatabase().HashGetAllAsync($"perf:{{{performanceId}}}:seats").ConfigureAwait(false);
        var notFree = seats.Count(s => s.Value != "A");
        Checks.Add(new($"{mode} holds: every seat free after all holds were given back", notFree == 0 && seats.Length == seatCount,
            $"{seats.Length} of {seatCount} seats in Redis, {notFree} not AVAILABLE"));
    }

    /// <summary>Checks a performance that was booked: seats, Redis, sections, events and sagas all agree.</summary>
    public async Task BookingPhaseAsync(string mode, string performanceId, IReadOnlyList<Guid> reservations)
    {
        await using var bookingDb = new NpgsqlConnection(system.ConnectionStrings["bookingdb"]);
        await bookingDb.OpenAsync(stopping).ConfigureAwait(false);
        await CheckSagasFinishedAsync(mode, bookingDb, performanceId).ConfigureAwait(false);
        var finished = await CheckAcceptedFinishedAsync(mode, bookingDb, reservations).ConfigureAwait(false);

        var confirmed = await ConfirmedAsync(bookingDb, performanceId).ConfigureAwait(false);
        var bookedSeats = confirmed.SelectMany(r => r.Seats).ToList();
        var duplicates = bookedSeats.Count - bookedSeats.Distinct().Count();
        Checks.Add(new($"{mode}: no seat booked twice", duplicates == 0, $"{confirmed.Count} confirmed reservations, {bookedSeats.Count} seats, {duplicates} booked twice"));

        await CheckRedisAsync(mode, performanceId, confirmed).ConfigureAwait(false);
        await CheckSectionsAsync(mode, performanceId, bookedSeats).ConfigureAwait(false);
        await CheckEventsAsync(mode, finished).ConfigureAwait(false);
    }

    /// <summary>
    /// Every reservation the API accepted (202) is stored and finished: one lost after its 202, or left pending with no
    /// saga, would escape the other checks, which look at what PostgreSQL has. Returns each one's final status.
    /// </summary>
    private async Task<Dictionary<Guid, string>> CheckAcceptedFinishedAsync(string mode, NpgsqlConnection bookingDb, IReadOnlyList<Guid> reservations)
    {
        var statuses = new Dictionary<Guid, string>();
        await using (var command = new NpgsqlCommand("SELECT id, status FROM reservations WHERE id = ANY($1)", bookingDb))
        {
            command.Parameters.AddWithValue(reservations.ToArray());
            await using var reader = await command.ExecuteReaderAsync(stopping).ConfigureAwait(false);
            while (await reader.ReadAsync(stopping).ConfigureAwait(false))
            {
                statuses[reader.GetGuid(0)] = reader.GetString(1);
            }
        }

        var missing = reservations.Distinct().Count(id => !statuses.ContainsKey(id));
        var unfinished = statuses.Count(s => s.Value is not ("CONFIRMED" or "FAILED" or "CANCELLED"));
        Checks.Add(new($"{mode}: every accepted reservation stored and finished", missing == 0 && unfinished == 0,
            $"{reservations.Count} accepted, {missing} not stored, {unfinished} not finished"));
        return statuses;
    }

    /// <summary>No saga left unfinished (after letting the last ones drain).</summary>
    private async Task CheckSagasFinishedAsync(string mode, NpgsqlConnection bookingDb, string performanceId)
    {
        var deadline = DateTime.UtcNow + DrainTimeout;
        long unfinished;
        while ((unfinished = await ScalarAsync<long>(bookingDb,
            "SELECT count(*) FROM sagas s JOIN reservations r ON r.id = s.reservation_id WHERE r.resource_id = $1 AND s.state NOT IN ('COMPLETED','FAILED','CANCELLED')",
            performanceId).ConfigureAwait(false)) > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(500, stopping).ConfigureAwait(false);
        }

        Checks.Add(new($"{mode}: no saga left unfinished", unfinished == 0, $"{unfinished} unfinished"));
    }

    private async Task<List<(Guid Id, Guid HoldId, string[] Seats)>> ConfirmedAsync(NpgsqlConnection bookingDb, string performanceId)
    {
        var confirmed = new List<(Guid Id, Guid HoldId, string[] Seats)>();
        await using var command = new NpgsqlCommand("SELECT id, hold_id, seat_ids FROM reservations WHERE resource_id = $1 AND status = 'CONFIRMED'", bookingDb);
        command.Parameters.AddWithValue(performanceId);
        await using var reader = await command.ExecuteReaderAsync(stopping).ConfigureAwait(false);
        while (await reader.ReadAsync(stopping).ConfigureAwait(false))
        {
            confirmed.Add((reader.GetGuid(0), reader.GetGuid(1), reader.GetFieldValue<string[]>(2)));
        }

        return confirmed;
    }

    /// <summary>Redis's seat state, seat by seat, equals PostgreSQL's confirmed reservations.</summary>
    private async Task CheckRedisAsync(string mode, string performanceId, List<(Guid Id, Guid HoldId, string[] Seats)> confirmed)
    {
        await using var redis = await ConnectionMultiplexer.ConnectAsync(system.ConnectionStrings["redis"]).ConfigureAwait(false);
        var state = (await redis.GetDatabase().HashGetAllAsync($"perf:{{{performanceId}}}:seats").ConfigureAwait(false))
            .ToDictionary(e => e.Name.ToString(), e => e.Value.ToString(), StringComparer.Ordinal);
        // A lookup, not a dictionary: a seat of two confirmed reservations (booked twice) is a mismatch to count, not a crash.
        var expected = confirmed.SelectMany(r => r.Seats.Select(seat => (seat, mark: $"B:{r.HoldId:D}"))).ToLookup(x => x.seat, x => x.mark, StringComparer.Ordinal);
        // Seat by seat both ways: a booked seat Redis does not have at all (a lost field or hash) differs too.
        var mismatches = state.Count(seat => seat.Value.StartsWith("B:", StringComparison.Ordinal)
            ? expected[seat.Key].ToList() is not [var mark] || mark != seat.Value
            : expected.Contains(seat.Key))
            + expected.Count(seat => !state.ContainsKey(seat.Key));
        Checks.Add(new($"{mode}: Redis seat state equals PostgreSQL's confirmed reservations", mismatches == 0,
            $"{state.Count(s => s.Value.StartsWith("B:", StringComparison.Ordinal))} seats BOOKED in Redis, {expected.Count} in PostgreSQL, {mismatches} differ"));
    }

    /// <summary>Each section's remaining == capacity - allocations == capacity - confirmed seats.</summary>
    private async Task CheckSectionsAsync(string mode, string performanceId, List<string> bookedSeats)
    {
        await using var performanceDb = new NpgsqlConnection(system.ConnectionStrings["performancedb"]);
        await performanceDb.OpenAsync(stopping).ConfigureAwait(false);
        var sections = new List<(string Code, int Capacity, int Remaining, long Allocated)>();
        await using (var command = new NpgsqlCommand("""
            SELECT s.code, s.capacity, s.remaining, COALESCE((SELECT sum(a.seats) FROM allocations a
                WHERE a.performance_id = s.performance_id AND a.section_code = s.code AND a.state = 'ALLOCATED'), 0)
            FROM sections s WHERE s.performance_id = $1::uuid ORDER BY s.code
            """, performanceDb))
        {
            command.Parameters.AddWithValue(performanceId);
            await using var reader = await command.ExecuteReaderAsync(stopping).ConfigureAwait(false);
            while (await reader.ReadAsync(stopping).ConfigureAwait(false))
            {
                sections.Add((reader.GetString(0), reader.GetInt32(1), reader.GetInt32(2), reader.GetInt64(3)));
            }
        }

        var bySection = bookedSeats.GroupBy(Core.Seats.SeatIds.Section).ToDictionary(g => g.Key, g => (long)g.Count());
        var badSections = sections.Where(s => s.Remaining != s.Capacity - s.Allocated || s.Allocated != bySection.GetValueOrDefault(s.Code)).ToList();
        Checks.Add(new($"{mode}: each section's remaining == capacity - allocations == capacity - confirmed seats", badSections.Count == 0 && sections.Count > 0,
            $"{sections.Count} sections, {sections.Sum(s => s.Allocated)} seats allocated" + string.Concat(badSections.Select(s => $"; {s.Code}: remaining {s.Remaining}, capacity {s.Capacity}, allocated {s.Allocated}, confirmed {bySection.GetValueOrDefault(s.Code)}"))));
    }

    /// <summary>
    /// One outcome event per finished reservation, on its status's topic: one completed event per confirmed reservation
    /// (redeliveries would repeat the same event id), one failed event per failed one, none on the other topic.
    /// </summary>
    private async Task CheckEventsAsync(string mode, Dictionary<Guid, string> finished)
    {
        var expected = finished
            .Select(r => (Id: r.Key.ToString("D"), Topic: r.Value switch { "CONFIRMED" => BookingTopics.Completed, "FAILED" => BookingTopics.Failed, _ => null }))
            .Where(r => r.Topic is not null).ToDictionary(r => r.Id, r => r.Topic!, StringComparer.Ordinal);
        var accepted = finished.Keys.Select(id => id.ToString("D")).ToHashSet(StringComparer.Ordinal);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        Dictionary<(string Id, string Topic), int> seen;
        do
        {
            // Distinct event ids per reservation and topic: a redelivery repeats its event's id.
            seen = events.Events.Where(e => e.Topic is BookingTopics.Completed or BookingTopics.Failed && accepted.Contains(e.ReservationId))
                .GroupBy(e => (e.ReservationId, e.Topic)).ToDictionary(g => g.Key, g => g.Select(e => e.EventId).Distinct().Count());
            if (expected.All(r => seen.ContainsKey((r.Key, r.Value))))
            {
                break;
            }

            await Task.Delay(500, stopping).ConfigureAwait(false);
        }
        while (DateTime.UtcNow < deadline);

        var missing = expected.Count(r => !seen.ContainsKey((r.Key, r.Value)));
        var extra = seen.Count(s => s.Value > 1);
        var stray = seen.Keys.Count(s => !expected.TryGetValue(s.Id, out var topic) || topic != s.Topic);
        Checks.Add(new($"{mode}: one completed event per confirmed reservation, one failed event per failed one", missing == 0 && extra == 0 && stray == 0,
            $"{expected.Count(r => r.Value == BookingTopics.Completed)} confirmed and {expected.Count(r => r.Value == BookingTopics.Failed)} failed reservations, "
            + $"{missing} without their event, {extra} with two different events on one topic, {stray} on the other topic"));
    }

    private async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql, string parameter)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue(parameter);
        return (T)(await command.ExecuteScalarAsync(stopping).ConfigureAwait(false))!;
    }
}
