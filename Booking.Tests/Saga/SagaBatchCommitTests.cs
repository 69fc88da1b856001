using Booking.Core.Outbox;
using Booking.SagaWorker.Saga;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Booking.Tests.Saga;

/// <summary>A batch of sagas commits in set-based statements, refuses a row changed since it was read, and drops nothing.</summary>
public sealed class SagaBatchCommitTests(BookingApp app) : IClassFixture<BookingApp>
{
    [Fact]
    public async Task A_batch_of_completions_and_a_failure_commits_in_set_based_statements_exactly_as_tracked()
    {
        var ids = new[] { await AddReservationAsync(), await AddReservationAsync(), await AddReservationAsync() };
        var now = DateTimeOffset.UtcNow;
        var saves = new SaveChangesCounter();
        await using (var db = Counted(saves))
        {
            var rows = await LoadAsync(db, ids);
            Complete(db, rows[ids[0]], now);
            Complete(db, rows[ids[1]], now);
            var failed = rows[ids[2]];
            failed.FailureCode = "HOLD_EXPIRED";
            failed.FailureReason = "HOLD_EXPIRED: the hold expired before it was confirmed.";
            failed.Saga!.State = SagaState.Compensating;
            failed.Saga.UpdatedAt = now;
            failed.Saga.Steps.Add(Step("ConfirmHold", SagaStepStatus.Failed, now, "HOLD_EXPIRED"));

            await SagaBatchCommit.SaveAsync(db, CancellationToken.None);
        }

        // Written without change tracking's statement per row: SaveChanges never ran.
        Assert.Equal(0, saves.Count);
        await using var check = app.NewDbContext();
        var stored = await LoadAsync(check, ids);
        foreach (var id in ids[..2])
        {
            Assert.Equal((ReservationStatus.Confirmed, SagaState.Completed), (stored[id].Status, stored[id].Saga!.State));
            Assert.Equal(now.ToUnixTimeMilliseconds(), stored[id].ConfirmedAt?.ToUnixTimeMilliseconds());
            Assert.Null(stored[id].Saga!.NextAttemptAt);
            Assert.Equal(["ConfirmHold", "AllocateSection", "CompleteReservation"], stored[id].Saga!.Steps.OrderBy(s => s.Id).Select(s => s.Name));
        }

        Assert.Equal((ReservationStatus.Pending, SagaState.Compensating), (stored[ids[2]].Status, stored[ids[2]].Saga!.State));
        Assert.Equal("HOLD_EXPIRED", stored[ids[2]].FailureCode);
        Assert.StartsWith("HOLD_EXPIRED", stored[ids[2]].FailureReason, StringComparison.Ordinal);
        Assert.Equal("HOLD_EXPIRED", Assert.Single(stored[ids[2]].Saga!.Steps).Error);

        var keys = ids.Select(id => id.ToString("D")).ToList();
        var events = await check.OutboxMessages.AsNoTracking().Where(m => keys.Contains(m.MessageKey)).ToListAsync();
        Assert.Equal(keys[..2].Order(), events.Select(m => m.MessageKey).Order());
        Assert.All(events, m => Assert.Equal(BookingTopics.Completed, m.Topic));
        Assert.All(events, m => Assert.Contains("\"CONFIRMED\"", m.Payload, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_reservation_changed_after_the_read_fails_the_whole_commit_and_nothing_of_the_batch_is_written()
    {
        var ids = new[] { await AddReservationAsync(), await AddReservationAsync() };
        var now = DateTimeOffset.UtcNow;
        await using (var db = app.NewDbContext())
        {
            var rows = await LoadAsync(db, ids);
            Complete(db, rows[ids[0]], now);
            Complete(db, rows[ids[1]], now);

            // A cancel commits in between: the second reservation's xmin is no longer the one read.
            await using (var other = app.NewDbContext())
            {
                await other.Sagas.Where(s => s.ReservationId == ids[1]).ExecuteUpdateAsync(s => s.SetProperty(x => x.CancelRequested, true));
            }

            await Assert.ThrowsAsync<DbUpdateConcurrencyException>(() => SagaBatchCommit.SaveAsync(db, CancellationToken.None));
        }

        await using var check = app.NewDbContext();
        var stored = await LoadAsync(check, ids);
        Assert.All(stored.Values, r => Assert.Equal((ReservationStatus.Pending, SagaState.Started, 0), (r.Status, r.Saga!.State, r.Saga.Steps.Count)));
        var keys = ids.Select(id => id.ToString("D")).ToList();
        Assert.False(await check.OutboxMessages.AnyAsync(m => keys.Contains(m.MessageKey)));
    }

    [Fact]
    public async Task A_change_the_set_based_statements_do_not_write_commits_through_change_tracking_and_is_not_lost()
    {
        var id = await AddReservationAsync(withFailedStep: true);
        var now = DateTimeOffset.UtcNow;
        var saves = new SaveChangesCounter();
        await using (var db = Counted(saves))
        {
            var reservation = (await LoadAsync(db, [id]))[id];
            // The failed step's record is retried in place: an update of a step, which only SaveChanges writes.
            var step = Assert.Single(reservation.Saga!.Steps);
            step.Status = SagaStepStatus.Succeeded;
            step.Error = null;
            step.Attempt = 2;
            Complete(db, reservation, now, withConfirmStep: false);

            await SagaBatchCommit.SaveAsync(db, CancellationToken.None);
        }

        Assert.Equal(1, saves.Count);
        await using var check = app.NewDbContext();
        var stored = (await LoadAsync(check, [id]))[id];
        Assert.Equal(ReservationStatus.Confirmed, stored.Status);
        var confirm = stored.Saga!.Steps.Single(s => s.Name == "ConfirmHold");
        Assert.Equal((SagaStepStatus.Succeeded, 2, null), (confirm.Status, confirm.Attempt, confirm.Error));
    }

    private static void Complete(BookingDbContext db, Reservation reservation, DateTimeOffset now, bool withConfirmStep = true)
    {
        var saga = reservation.Saga!;
        if (withConfirmStep)
        {
            saga.Steps.Add(Step("ConfirmHold", SagaStepStatus.Succeeded, now.AddMilliseconds(-2)));
        }

        saga.Steps.Add(Step("AllocateSection", SagaStepStatus.Succeeded, now.AddMilliseconds(-1)));
        saga.Steps.Add(Step("CompleteReservation", SagaStepStatus.Succeeded, now));
        saga.State = SagaState.Completed;
        saga.NextAttemptAt = null;
        saga.UpdatedAt = now;
        reservation.Status = ReservationStatus.Confirmed;
        reservation.ConfirmedAt = now;
        reservation.UpdatedAt = now;
        OutboxWriter.Add(db, BookingTopics.Completed, reservation, now);
    }

    private static SagaStep Step(string name, SagaStepStatus status, DateTimeOffset at, string? error = null) =>
        new() { Name = name, Status = status, Attempt = 1, StartedAt = at, FinishedAt = at, Error = error };

    private static async Task<Dictionary<Guid, Reservation>> LoadAsync(BookingDbContext db, Guid[] ids) =>
        await db.Reservations.Include(r => r.Saga).ThenInclude(s => s!.Steps).Where(r => ids.Contains(r.Id)).ToDictionaryAsync(r => r.Id);

    private BookingDbContext Counted(SaveChangesCounter saves) => new(
        new DbContextOptionsBuilder<BookingDbContext>().UseNpgsql(app.BookingDb).UseSnakeCaseNamingConvention().AddInterceptors(saves).Options);

    private sealed class SaveChangesCounter : SaveChangesInterceptor
    {
        private int _count;

        public int Count => _count;

        public override ValueTask<InterceptionResult<int>> SavingChangesAsync(DbContextEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _count);
            return base.SavingChangesAsync(eventData, result, cancellationToken);
        }
    }

    private Task<Guid> AddReservationAsync(bool withFailedStep = false) =>
        app.AddPendingReservationAsync(Guid.NewGuid().ToString(), ["A-1-1"], Guid.NewGuid(),
            withFailedStep ? [Step("ConfirmHold", SagaStepStatus.Failed, DateTimeOffset.UtcNow, "RedisTimeoutException: timed out")] : null);
}
