using System.Text.Json;
using Booking.Core.Data;
using Booking.Core.Outbox;
using Npgsql;
using static Booking.Core.Data.ColumnBatch;

namespace Booking.Api.Reservations;

/// <summary>
/// Writes new reservations, each with its saga, its details and its requested event, as four set-based statements
/// in one round trip and one implicit transaction, however many reservations there are. Any refusal (a hold already
/// used, a seat PostgreSQL holds booked) refuses the whole call and writes nothing.
/// </summary>
public static class ReservationInsert
{
    private const string InsertReservations = """
        INSERT INTO reservations (id, user_id, domain, resource_id, slot, seat_ids, quantity, hold_id, status, contact, created_at, updated_at)
        SELECT v.id, v.user_id, v.domain, v.resource_id, v.slot, ARRAY(SELECT jsonb_array_elements_text(v.seat_ids::jsonb)),
               v.quantity, v.hold_id, v.status, v.contact::jsonb, v.created_at, v.updated_at
        FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
            AS v(id, user_id, domain, resource_id, slot, seat_ids, quantity, hold_id, status, contact, created_at, updated_at)
        """;

    private const string InsertSagas = """
        INSERT INTO sagas (reservation_id, state, cancel_requested, attempts, created_at, updated_at, next_attempt_at, deadline_at, trace_parent)
        SELECT * FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9)
        """;

    private const string InsertDetails = """
        INSERT INTO reservation_details (id, reservation_id, type, data, created_at, updated_at)
        SELECT v.id, v.reservation_id, v.type, v.data::jsonb, v.created_at, v.updated_at
        FROM unnest($1, $2, $3, $4, $5, $6) AS v(id, reservation_id, type, data, created_at, updated_at)
        """;

    /// <summary>Each reservation with its saga (required) and details, and the events given.</summary>
    public static async Task InsertAsync(NpgsqlConnection connection, IReadOnlyCollection<Reservation> reservations,
        IReadOnlyCollection<OutboxMessage> events, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reservations);
        var sagas = reservations.Select(r => (r.Id, Saga: r.Saga ?? throw new ArgumentException($"Reservation {r.Id} has no saga.", nameof(reservations)))).ToList();
        var details = reservations.SelectMany(r => r.Details).ToList();

        await using var batch = new ColumnBatch(connection);
        batch.Add(InsertReservations, reservations,
            Values(reservations, r => r.Id),
            Values(reservations, r => r.UserId),
            Values(reservations, r => BookingDbContext.Stored(r.Domain)),
            Values(reservations, r => r.ResourceId),
            Values(reservations, r => r.Slot),
            Values(reservations, r => JsonSerializer.Serialize(r.SeatIds)),
            Values(reservations, r => r.Quantity),
            Values(reservations, r => r.HoldId),
            Values(reservations, r => BookingDbContext.Stored(r.Status)),
            Values(reservations, r => r.Contact is null ? null : JsonSerializer.Serialize(r.Contact)),
            Values(reservations, r => r.CreatedAt),
            Values(reservations, r => r.UpdatedAt));
        batch.Add(InsertSagas, sagas,
            Values(sagas, s => s.Id),
            Values(sagas, s => BookingDbContext.Stored(s.Saga.State)),
            Values(sagas, s => s.Saga.CancelRequested),
            Values(sagas, s => s.Saga.Attempts),
            Values(sagas, s => s.Saga.CreatedAt),
            Values(sagas, s => s.Saga.UpdatedAt),
            Values(sagas, s => s.Saga.NextAttemptAt),
            Values(sagas, s => s.Saga.DeadlineAt),
            Values(sagas, s => s.Saga.TraceParent));
        batch.Add(InsertDetails, details,
            Values(details, d => d.Id),
            Values(details, d => d.ReservationId),
            Values(details, d => d.Type),
            Values(details, d => d.Data.RootElement.GetRawText()),
            Values(details, d => d.CreatedAt),
            Values(details, d => d.UpdatedAt));
        OutboxWriter.AddAll(batch, events);
        await batch.ExecuteAsync(cancellationToken).ConfigureAwait(false);
    }
}
