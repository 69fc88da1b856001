using Npgsql;
using StackExchange.Redis;

namespace Booking.LoadTest;

public sealed record AuditCheck(string Name, bool Passed, string Detail);

/// <summary>
/// The end-of-run correctness audit of BENCHMARK.md. A fast run with one inconsistency is a failed run.
/// </summary>
public sealed class Audit(SystemUnderTest system, EventWatcher events)
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
        await bookingDb.OpenAsync().ConfigureAwait(false);
        await CheckSagasFinishedAsync(mode, bookingDb, performanceId).ConfigureAwait(false);

        var confirmed = await ConfirmedAsync(bookingDb, performanceId).ConfigureAwait(false);
        var bookedSeats = confirmed.SelectMany(r => r.Seats).ToList();
        var duplicates = bookedSeats.Count - bookedSeats.Distinct().Count();
        Checks.Add(new($"{mode}: no seat booked twice", duplicates == 0, $"{confirmed.Count} confirmed reservations, {bookedSeats.Count} seats, {duplicates} booked twice"));

        await CheckRedisAsync(mode, performanceId, confirmed).ConfigureAwait(false);
        await CheckSectionsAsync(mode, performanceId, bookedSeats).ConfigureAwait(false);
        await CheckEventsAsync(mode, reservations, confirmed).ConfigureAwait(false);
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
            await Task.Delay(500).ConfigureAwait(false);
        }

        Checks.Add(new($"{mode}: no saga left unfinished", unfinished == 0, $"{unfinished} unfinished"));
    }

    private static async Task<List<(Guid Id, Guid HoldId, string[] Seats)>> ConfirmedAsync(NpgsqlConnection bookingDb, string performanceId)
    {
        var confirmed = new List<(Guid Id, Guid HoldId, string[] Seats)>();
        await using var command = new NpgsqlCommand("SELECT id, hold_id, seat_ids FROM reservations WHERE resource_id = $1 AND status = 'CONFIRMED'", bookingDb);
        command.Parameters.AddWithValue(performanceId);
        await using var reader = await command.ExecuteReaderAsync().ConfigureAwait(false);
        while (await reader.ReadAsync().ConfigureAwait(false))
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
        var expected = confirmed.SelectMany(r => r.Seats.Select(seat => (seat, mark: $"B:{r.HoldId:D}"))).ToDictionary(x => x.seat, x => x.mark, StringComparer.Ordinal);
        // Seat by seat both ways: a booked seat Redis does not have at all (a lost field or hash) differs too.
        var mismatches = state.Count(seat => seat.Value.StartsWith("B:", StringComparison.Ordinal)
            ? !expected.TryGetValue(seat.Key, out var mark) || mark != seat.Value
            : expected.ContainsKey(seat.Key))
            + expected.Keys.Count(seat => !state.ContainsKey(seat));
        Checks.Add(new($"{mode}: Redis seat state equals PostgreSQL's confirmed reservations", mismatches == 0,
            $"{state.Count(s => s.Value.StartsWith("B:", StringComparison.Ordinal))} seats BOOKED in Redis, {expected.Count} in PostgreSQL, {mismatches} differ"));
    }

    /// <summary>Each section's remaining == capacity - allocations == capacity - confirmed seats.</summary>
    private async Task CheckSectionsAsync(string mode, string performanceId, List<string> bookedSeats)
    {
        await using var performanceDb = new NpgsqlConnection(system.ConnectionStrings["performancedb"]);
        await performanceDb.OpenAsync().ConfigureAwait(false);
        var sections = new List<(string Code, int Capacity, int Remaining, long Allocated)>();
        await using (var command = new NpgsqlCommand("""
            SELECT s.code, s.capacity, s.remaining, COALESCE((SELECT sum(a.seats) FROM allocations a
                WHERE a.performance_id = s.performance_id AND a.section_code = s.code AND a.state = 'ALLOCATED'), 0)
            FROM sections s WHERE s.performance_id = $1::uuid ORDER BY s.code
            """, performanceDb))
        {
            command.Parameters.AddWithValue(performanceId);
            await using var reader = await command.ExecuteReaderAsync().ConfigureAwait(false);
            while (await reader.ReadAsync().ConfigureAwait(false))
            {
                sections.Add((reader.GetString(0), reader.GetInt32(1), reader.GetInt32(2), reader.GetInt64(3)));
            }
        }

        var bySection = bookedSeats.GroupBy(Core.Seats.SeatIds.Section).ToDictionary(g => g.Key, g => (long)g.Count());
        var badSections = sections.Where(s => s.Remaining != s.Capacity - s.Allocated || s.Allocated != bySection.GetValueOrDefault(s.Code)).ToList();
        Checks.Add(new($"{mode}: each section's remaining == capacity - allocations == capacity - confirmed seats", badSections.Count == 0 && sections.Count > 0,
            $"{sections.Count} sections, {sections.Sum(s => s.Allocated)} seats allocated" + string.Concat(badSections.Select(s => $"; {s.Code}: remaining {s.Remaining}, capacity {s.Capacity}, allocated {s.Allocated}, confirmed {bySection.GetValueOrDefault(s.Code)}"))));
    }

    /// <summary>One completed event per confirmed reservation (redeliveries would repeat the same event id), none for the others.</summary>
    private async Task CheckEventsAsync(string mode, IReadOnlyList<Guid> reservations, List<(Guid Id, Guid HoldId, string[] Seats)> confirmed)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        var confirmedIds = confirmed.Select(r => r.Id.ToString("D")).ToHashSet(StringComparer.Ordinal);
        List<(string Topic, string ReservationId, string EventId)> completed;
        do
        {
            completed = events.Events.Where(e => e.Topic == Core.Outbox.BookingTopics.Completed && confirmedIds.Contains(e.ReservationId)).ToList();
            if (completed.Select(e => e.ReservationId).Distinct().Count() == confirmedIds.Count)
            {
                break;
            }

            await Task.Delay(500).ConfigureAwait(false);
        }
        while (DateTime.UtcNow < deadline);

        var made = reservations.Select(r => r.ToString("D")).ToHashSet(StringComparer.Ordinal);
        var perReservation = completed.GroupBy(e => e.ReservationId).ToDictionary(g => g.Key, g => g.Select(e => e.EventId).Distinct().Count());
        var missing = confirmedIds.Count(id => !perReservation.ContainsKey(id));
        var extra = perReservation.Count(p => p.Value > 1);
        var stray = events.Events.Count(e => e.Topic == Core.Outbox.BookingTopics.Completed && made.Contains(e.ReservationId) && !confirmedIds.Contains(e.ReservationId));
        Checks.Add(new($"{mode}: one completed event per confirmed reservation", missing == 0 && extra == 0 && stray == 0,
            $"{perReservation.Count} reservations with a completed event, {missing} missing, {extra} with two different events, {stray} for unconfirmed ones"));
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection connection, string sql, string parameter)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue(parameter);
        return (T)(await command.ExecuteScalarAsync().ConfigureAwait(false))!;
    }
}
