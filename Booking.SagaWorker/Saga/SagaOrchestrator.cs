using System.Diagnostics;
using Booking.Core;
using Booking.Core.Data;
using Booking.Core.Holds;
using Booking.Core.Outbox;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using SagaEntity = Booking.Core.Data.Saga;

namespace Booking.SagaWorker.Saga;

/// <summary>
/// Runs one reservation's saga from wherever its recorded state says it is: forward steps in order, or every
/// compensation in reverse, then the final status with its event in one transaction. Every step and compensation
/// is idempotent, so a run interrupted anywhere (a crash, a lost message) is simply run again; on the happy path
/// the step log, CONFIRMED and the completed event are therefore written in one commit at the end.
/// </summary>
public sealed partial class SagaOrchestrator(
    BookingDbContext db,
    HoldEngine holds,
    PerformanceAllocationClient performances,
    AllocationBatcher allocations,
    SagaTelemetry telemetry,
    TimeProvider time,
    IOptions<SagaOptions> sagaOptions,
    IOptions<BookingOptions> bookingOptions,
    ILogger<SagaOrchestrator> logger)
{
    private const int MaxConcurrencyRetries = 5;

    public async Task RunAsync(Guid reservationId, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await RunOnceAsync(reservationId, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (DbUpdateConcurrencyException) when (attempt < MaxConcurrencyRetries)
            {
                // The API changed the reservation meanwhile (a cancel): read it again and decide anew.
                db.ChangeTracker.Clear();
            }
        }
    }

    /// <summary>
    /// Runs many sagas at once: one read for all of them, their steps side by side (Lua confirms pipelined on one
    /// connection, allocations arriving together at the performance service), and one transaction that records
    /// every step, every CONFIRMED with its completed event, every retry and every failure. Each saga keeps its own
    /// span, step log and outcome. Returns the sagas that need a run of their own: those compensating or cancelling,
    /// those that failed a step here, and all of them when the batch's commit met a concurrent change (a cancel).
    /// </summary>
    public async Task<IReadOnlyList<Guid>> RunBatchAsync(IReadOnlyCollection<Guid> reservationIds, CancellationToken cancellationToken)
    {
        var ids = reservationIds.ToArray();
        var loaded = await WithSaga().Where(r => ids.Contains(r.Id)).ToListAsync(cancellationToken).ConfigureAwait(false);
        var forward = loaded.Where(r => r.Saga is { State: SagaState.Started, CancelRequested: false }).ToList();
        var alone = loaded.Where(r => r.Saga is { } saga && !IsFinished(saga) && !forward.Contains(r)).Select(r => r.Id).ToList();
        if (forward.Count == 0)
        {
            return alone;
        }

        var runs = await Task.WhenAll(forward.Select(r => RunStepsInBatchAsync(r, cancellationToken))).ConfigureAwait(false);
        var completions = new List<(BatchRun Run, Activity? Step)>();
        try
        {
            foreach (var run in runs)
            {
                if (run.Result.Outcome == StepOutcome.Succeeded)
                {
                    completions.Add((run, StartCompletion(run)));
                }
                else if (SettleFailure(run.Reservation, run.Result))
                {
                    alone.Add(run.Reservation.Id);
                }
            }

            await SagaBatchCommit.SaveAsync(db, cancellationToken).ConfigureAwait(false);
        }
        catch (DbUpdateConcurrencyException)
        {
            // One of them changed meanwhile; every step is idempotent, so each simply runs again on its own.
            db.ChangeTracker.Clear();
            EndBatch(runs, completions, "RETRIED_ALONE");
            return [.. alone.Union(forward.Select(r => r.Id))];
        }
        catch
        {
            EndBatch(runs, completions, "ERROR");
            throw;
        }

        foreach (var (run, _) in completions)
        {
            RecordCompleted(run.Reservation);
        }

        EndBatch(runs, completions, "SUCCEEDED");
        return alone;
    }

    private IQueryable<Reservation> WithSaga() =>
        db.Reservations.Include(r => r.Details).Include(r => r.Saga).ThenInclude(s => s!.Steps).AsSingleQuery();

    private async Task RunOnceAsync(Guid reservationId, CancellationToken cancellationToken)
    {
        var reservation = await WithSaga().SingleOrDefaultAsync(r => r.Id == reservationId, cancellationToken).ConfigureAwait(false);
        if (reservation?.Saga is not { } saga || IsFinished(saga))
        {
            return;
        }

        using var activity = SagaTelemetry.StartSaga(reservation);

        if (saga.CancelRequested || saga.State == SagaState.Cancelling)
        {
            await CompensateAsync(reservation, cancelling: true, cancellationToken).ConfigureAwait(false);
        }
        else if (saga.State == SagaState.Compensating)
        {
            await CompensateAsync(reservation, cancelling: false, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await ForwardAsync(reservation, cancellationToken).ConfigureAwait(false);
        }

        activity?.SetTag("saga.outcome", saga.State.ToString().ToUpperInvariant());
    }

    /// <summary>One saga of a batch: its span and forward steps, in an async flow of its own so spans nest right.</summary>
    private async Task<BatchRun> RunStepsInBatchAsync(Reservation reservation, CancellationToken cancellationToken)
    {
        var activity = SagaTelemetry.StartSaga(reservation);
        activity?.SetTag("saga.batched", true);
        return new BatchRun(reservation, activity, await RunStepsAsync(reservation, cancellationToken).ConfigureAwait(false));
    }

    private sealed record BatchRun(Reservation Reservation, Activity? Activity, StepResult Result);

    /// <summary>The completion span of a batched saga, a child of its saga span, current while its event is written.</summary>
    private Activity? StartCompletion(BatchRun run)
    {
        var previous = Activity.Current;
        var step = SagaTelemetry.StartStep(SagaSteps.CompleteReservation, run.Reservation.Id, run.Activity);
        MarkCompleted(run.Reservation);
        Activity.Current = previous;
        return step;
    }

    private static void EndBatch(IEnumerable<BatchRun> runs, List<(BatchRun Run, Activity? Step)> completions, string completionOutcome)
    {
        var previous = Activity.Current;
        foreach (var (_, step) in completions)
        {
            step?.SetTag("saga.outcome", completionOutcome);
            step?.Dispose();
        }

        foreach (var run in runs)
        {
            run.Activity?.SetTag("saga.outcome", run.Reservation.Saga!.State.ToString().ToUpperInvariant());
            run.Activity?.Dispose();
        }

        Activity.Current = previous;
    }

    private static bool IsFinished(SagaEntity saga) =>
        saga.State is SagaState.Failed or SagaState.Cancelled || (saga.State == SagaState.Completed && !saga.CancelRequested);

    private async Task ForwardAsync(Reservation reservation, CancellationToken cancellationToken)
    {
        var result = await RunStepsAsync(reservation, cancellationToken).ConfigureAwait(false);
        if (result.Outcome == StepOutcome.Succeeded)
        {
            await CompleteAsync(reservation, cancellationToken).ConfigureAwait(false);
            return;
        }

        var compensate = SettleFailure(reservation, result);
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        if (compensate)
        {
            await CompensateAsync(reservation, cancelling: false, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The forward steps before the completion, each recorded in the saga's log (committed with whatever comes next);
    /// stops at the first that does not succeed. Touches no database, so the sagas of a batch run it side by side.
    /// </summary>
    private async Task<StepResult> RunStepsAsync(Reservation reservation, CancellationToken cancellationToken)
    {
        foreach (var step in StepsBeforeCompletion(reservation.Domain))
        {
            if (Succeeded(reservation.Saga!, step.Name))
            {
                continue;
            }

            var result = await RecordAsync(reservation, step, persist: false, cancellationToken).ConfigureAwait(false);
            if (result.Outcome != StepOutcome.Succeeded)
            {
                return result;
            }
        }

        return StepResult.Done;
    }

    /// <summary>
    /// A step that did not succeed: retried later while the deadline allows, else the saga turns to compensation.
    /// Changes only the tracked saga; returns whether it must compensate now.
    /// </summary>
    private bool SettleFailure(Reservation reservation, StepResult result)
    {
        var saga = reservation.Saga!;
        if (result.Outcome == StepOutcome.Retry && time.GetUtcNow() < saga.DeadlineAt)
        {
            ScheduleRetry(saga);
            return false;
        }

        saga.State = SagaState.Compensating;
        var failure = result.Outcome == StepOutcome.Retry
            ? StepResult.Fail(SagaFailureCodes.DeadlinePassed, $"gave up after the saga deadline; last error {result.Error}")
            : result;
        reservation.FailureCode = Truncate(failure.Code, Reservation.MaxFailureCodeLength);
        reservation.FailureReason = Truncate(failure.Error, Reservation.MaxFailureReasonLength);
        saga.UpdatedAt = time.UtcNowMicros();
        return true;
    }

    /// <summary>
    /// Runs the compensation of every step, newest first, then records the final status. A step may have taken
    /// effect without a record (a crash between its effect and the commit), and compensations are idempotent, so
    /// all of them run rather than only those of recorded steps.
    /// </summary>
    private async Task CompensateAsync(Reservation reservation, bool cancelling, CancellationToken cancellationToken)
    {
        var saga = reservation.Saga!;
        foreach (var step in StepsBeforeCompletion(reservation.Domain).Reverse())
        {
            if (step.Compensation is not { } compensation || Succeeded(saga, compensation.Name))
            {
                continue;
            }

            var result = await RecordAsync(reservation, compensation, persist: true, cancellationToken).ConfigureAwait(false);
            if (result.Outcome != StepOutcome.Succeeded)
            {
                // Compensation has no deadline: it is retried until it succeeds.
                await ScheduleRetryAsync(saga, cancellationToken).ConfigureAwait(false);
                return;
            }
        }

        Finish(reservation, cancelling ? ReservationStatus.Cancelled : ReservationStatus.Failed, time.UtcNowMicros());
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        RecordFinal(reservation);
    }

    /// <summary>CONFIRMED, the step record and the completed event commit together.</summary>
    private async Task CompleteAsync(Reservation reservation, CancellationToken cancellationToken)
    {
        using var activity = SagaTelemetry.StartStep(SagaSteps.CompleteReservation, reservation.Id);
        MarkCompleted(reservation);
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        activity?.SetTag("saga.outcome", "SUCCEEDED");
        RecordCompleted(reservation);
    }

    /// <summary>The completion's changes, tracked for the next commit: step record, CONFIRMED and the completed event.</summary>
    private void MarkCompleted(Reservation reservation)
    {
        var saga = reservation.Saga!;
        var now = time.UtcNowMicros();
        saga.Steps.Add(new SagaStep
        {
            Name = SagaSteps.CompleteReservation,
            Status = SagaStepStatus.Succeeded,
            Attempt = saga.Attempts + 1,
            StartedAt = now,
            FinishedAt = now,
        });
        Finish(reservation, ReservationStatus.Confirmed, now);
    }

    /// <summary>
    /// The one place a saga ends: CONFIRMED (completed), FAILED or CANCELLED, with the saga's matching final state and
    /// the event that announces it, tracked for the next commit.
    /// </summary>
    private void Finish(Reservation reservation, ReservationStatus status, DateTimeOffset now)
    {
        var (state, topic) = status switch
        {
            ReservationStatus.Confirmed => (SagaState.Completed, BookingTopics.Completed),
            ReservationStatus.Failed => (SagaState.Failed, BookingTopics.Failed),
            ReservationStatus.Cancelled => (SagaState.Cancelled, BookingTopics.Cancelled),
            _ => throw new ArgumentOutOfRangeException(nameof(status), status, "A saga ends CONFIRMED, FAILED or CANCELLED."),
        };
        var saga = reservation.Saga!;
        saga.State = state;
        saga.NextAttemptAt = null;
        saga.UpdatedAt = now;
        reservation.Status = status;
        reservation.ConfirmedAt = status == ReservationStatus.Confirmed ? now : reservation.ConfirmedAt;
        reservation.UpdatedAt = now;
        OutboxWriter.Add(db, topic, reservation, now);
    }

    private void RecordCompleted(Reservation reservation)
    {
        telemetry.Steps.Add(1, new KeyValuePair<string, object?>("step", SagaSteps.CompleteReservation), new KeyValuePair<string, object?>("outcome", "SUCCEEDED"));
        RecordFinal(reservation);
    }

    /// <summary>
    /// Runs a step and adds its record to the saga's log. With <paramref name="persist"/> (compensations) the record
    /// is committed as RUNNING first and again when it ends; forward steps are committed with whatever comes next.
    /// </summary>
    private async Task<StepResult> RecordAsync(Reservation reservation, Step step, bool persist, CancellationToken cancellationToken)
    {
        var saga = reservation.Saga!;
        using var activity = SagaTelemetry.StartStep(step.Name, reservation.Id);
        var record = RecordFor(saga, step.Name);
        record.Status = SagaStepStatus.Running;
        record.Attempt = saga.Attempts + 1;
        record.StartedAt = time.UtcNowMicros();
        record.FinishedAt = null;
        // While a step runs the saga counts as progressing; if this worker dies, the sweep resumes it after this.
        saga.NextAttemptAt = record.StartedAt + bookingOptions.Value.SagaResumeAfter;
        saga.UpdatedAt = record.StartedAt;
        if (persist)
        {
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }

        var started = Stopwatch.GetTimestamp();
        StepResult result;
        try
        {
            result = await step.RunAsync(this, reservation, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
        {
            // Unreachable Redis or performance service, timeouts, an open circuit: all worth another try later.
            result = StepResult.Retry($"{exception.GetType().Name}: {exception.Message}");
        }

        record.Status = result.Outcome == StepOutcome.Succeeded ? SagaStepStatus.Succeeded : SagaStepStatus.Failed;
        record.Error = Truncate(result.Error, SagaStep.MaxErrorLength);
        record.FinishedAt = time.UtcNowMicros();
        saga.UpdatedAt = record.FinishedAt.Value;
        if (persist)
        {
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }

        var outcome = result.Outcome.ToString().ToUpperInvariant();
        activity?.SetTag("saga.outcome", outcome);
        if (result.Outcome != StepOutcome.Succeeded)
        {
            activity?.SetStatus(ActivityStatusCode.Error, result.Error);
            LogStepFailed(reservation.Id, step.Name, outcome, result.Error);
        }

        var tags = new TagList { { "step", step.Name }, { "outcome", outcome } };
        telemetry.Steps.Add(1, tags);
        telemetry.StepDuration.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds, tags);
        return result;
    }

    /// <summary>
    /// The record a run of <paramref name="step"/> writes to: a new one, or the step's last failed record when the
    /// step is retried straight after it. Retries of one step are one row showing the latest attempt and error, so
    /// the log (and the events that carry it) stays a few rows however long a compensation keeps retrying.
    /// </summary>
    private static SagaStep RecordFor(SagaEntity saga, string step)
    {
        var last = saga.Steps.Count == 0 ? null : saga.Steps.MaxBy(s => (s.StartedAt, s.Id));
        if (last is { Status: SagaStepStatus.Failed } && last.Name == step)
        {
            return last;
        }

        var record = new SagaStep { Name = step };
        saga.Steps.Add(record);
        return record;
    }

    private async Task ScheduleRetryAsync(SagaEntity saga, CancellationToken cancellationToken)
    {
        ScheduleRetry(saga);
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
    }

    private void ScheduleRetry(SagaEntity saga)
    {
        var now = time.UtcNowMicros();
        saga.NextAttemptAt = now + sagaOptions.Value.Backoff(saga.Attempts);
        saga.Attempts++;
        saga.UpdatedAt = now;
    }

    private void RecordFinal(Reservation reservation)
    {
        telemetry.Reservations.Add(1, new KeyValuePair<string, object?>("status", reservation.Status.ToString().ToUpperInvariant()));
        telemetry.SagaDuration.Record((time.GetUtcNow() - reservation.CreatedAt).TotalMilliseconds,
            new KeyValuePair<string, object?>("status", reservation.Status.ToString().ToUpperInvariant()));
    }

    private static bool Succeeded(SagaEntity saga, string step) =>
        saga.Steps.Any(s => s.Name == step && s.Status == SagaStepStatus.Succeeded);

    private static string? Truncate(string? value, int max) => value is null || value.Length <= max ? value : value[..max];

    [LoggerMessage(Level = LogLevel.Warning, Message = "Saga {ReservationId}: {Step} ended {Outcome}: {Error}")]
    private partial void LogStepFailed(Guid reservationId, string step, string outcome, string? error);
}
