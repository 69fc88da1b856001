using Booking.Core.Data;
using Booking.Core.Outbox;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.ChangeTracking;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;
using static Booking.Core.Data.ColumnBatch;
using SagaEntity = Booking.Core.Data.Saga;

namespace Booking.SagaWorker.Saga;

/// <summary>
/// Commits what a batch of sagas changed as four set-based statements however many sagas it holds, instead of
/// change tracking's statement per row: the batch's new step records and new events are inserted from arrays, its
/// reservations and sagas updated from arrays, each row only while its xmin is still the one that was read. A row
/// changed meanwhile (a cancel) fails the whole commit with <see cref="DbUpdateConcurrencyException"/>, as
/// SaveChanges would. A change these statements do not write (a retried step's record, any other entity or column)
/// commits through SaveChanges instead, so nothing tracked is ever dropped.
/// </summary>
public static class SagaBatchCommit
{
    private static readonly HashSet<string> ReservationColumns =
        [nameof(Reservation.Status), nameof(Reservation.ConfirmedAt), nameof(Reservation.UpdatedAt), nameof(Reservation.FailureCode), nameof(Reservation.FailureReason)];

    private static readonly HashSet<string> SagaColumns =
        [nameof(SagaEntity.State), nameof(SagaEntity.Attempts), nameof(SagaEntity.NextAttemptAt), nameof(SagaEntity.UpdatedAt)];

    private const string UpdateReservations = """
        UPDATE reservations AS r
        SET status = v.status, confirmed_at = v.confirmed_at, updated_at = v.updated_at, failure_code = v.failure_code,
            failure_reason = v.failure_reason
        FROM unnest($1, $2, $3, $4, $5, $6, $7) AS v(id, version, status, confirmed_at, updated_at, failure_code, failure_reason)
        WHERE r.id = v.id AND r.xmin = v.version
        """;

    private const string UpdateSagas = """
        UPDATE sagas AS s
        SET state = v.state, attempts = v.attempts, next_attempt_at = v.next_attempt_at, updated_at = v.updated_at
        FROM unnest($1, $2, $3, $4, $5, $6) AS v(reservation_id, version, state, attempts, next_attempt_at, updated_at)
        WHERE s.reservation_id = v.reservation_id AND s.xmin = v.version
        """;

    private const string InsertSteps = """
        INSERT INTO saga_steps (reservation_id, name, status, attempt, started_at, finished_at, error)
        SELECT * FROM unnest($1, $2, $3, $4, $5, $6, $7)
        """;

    public static async Task SaveAsync(BookingDbContext db, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        if (Collect(db.ChangeTracker) is not { } changes)
        {
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        if (changes is { Reservations: [], Sagas: [], Steps: [], Events: [] })
        {
            return;
        }

        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using var batch = new ColumnBatch((NpgsqlConnection)db.Database.GetDbConnection(), (NpgsqlTransaction)transaction.GetDbTransaction());
        var reservations = batch.Add(UpdateReservations, changes.Reservations,
            Values(changes.Reservations, r => r.Id),
            Versions(changes.Reservations, r => r.Version),
            Values(changes.Reservations, r => BookingDbContext.Stored(r.Status)),
            Values(changes.Reservations, r => r.ConfirmedAt),
            Values(changes.Reservations, r => r.UpdatedAt),
            Values(changes.Reservations, r => r.FailureCode),
            Values(changes.Reservations, r => r.FailureReason));
        var sagas = batch.Add(UpdateSagas, changes.Sagas,
            Values(changes.Sagas, s => s.ReservationId),
            Versions(changes.Sagas, s => s.Version),
            Values(changes.Sagas, s => BookingDbContext.Stored(s.State)),
            Values(changes.Sagas, s => s.Attempts),
            Values(changes.Sagas, s => s.NextAttemptAt),
            Values(changes.Sagas, s => s.UpdatedAt));
        batch.Add(InsertSteps, changes.Steps,
            Values(changes.Steps, s => s.ReservationId),
            Values(changes.Steps, s => s.Name),
            Values(changes.Steps, s => BookingDbContext.Stored(s.Status)),
            Values(changes.Steps, s => s.Attempt),
            Values(changes.Steps, s => s.StartedAt),
            Values(changes.Steps, s => s.FinishedAt),
            Values(changes.Steps, s => s.Error));
        OutboxWriter.AddAll(batch, changes.Events);
        await batch.ExecuteAsync(cancellationToken).ConfigureAwait(false);
        if (reservations?.RecordsAffected < changes.Reservations.Count || sagas?.RecordsAffected < changes.Sagas.Count)
        {
            // The transaction rolls back when it is disposed uncommitted.
            throw new DbUpdateConcurrencyException("A reservation or saga of the batch changed after it was read.");
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        db.ChangeTracker.AcceptAllChanges();
    }

    private sealed record Changes(List<Reservation> Reservations, List<SagaEntity> Sagas, List<SagaStep> Steps, List<OutboxMessage> Events);

    /// <summary>The batch's changes by kind; null when any of them is one the set-based statements do not write.</summary>
    private static Changes? Collect(ChangeTracker tracker)
    {
        var changes = new Changes([], [], [], []);
        foreach (var entry in tracker.Entries())
        {
            var known = (entry.Entity, entry.State) switch
            {
                (_, EntityState.Unchanged) => true,
                (Reservation reservation, EntityState.Modified) when OnlyModified(entry, ReservationColumns) => Collected(changes.Reservations, reservation),
                (SagaEntity saga, EntityState.Modified) when OnlyModified(entry, SagaColumns) => Collected(changes.Sagas, saga),
                (SagaStep step, EntityState.Added) => Collected(changes.Steps, step),
                (OutboxMessage message, EntityState.Added) => Collected(changes.Events, message),
                _ => false,
            };
            if (!known)
            {
                return null;
            }
        }

        // Identities follow the order rows are inserted: a saga's steps keep the order they ran in.
        return changes with { Steps = [.. changes.Steps.OrderBy(s => s.StartedAt)] };
    }

    private static bool Collected<T>(List<T> list, T item)
    {
        list.Add(item);
        return true;
    }

    private static bool OnlyModified(EntityEntry entry, HashSet<string> columns) =>
        entry.Properties.All(p => !p.IsModified || columns.Contains(p.Metadata.Name));
}
