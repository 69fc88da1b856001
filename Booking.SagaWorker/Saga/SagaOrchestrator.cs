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

    private async Task RunOnceAsync(Guid reservationId, CancellationToken cancellationToken)
    {
        var reservation = await db.Reservations
            .Include(r => r.Details)
            .Include(r => r.Saga).ThenInclude(s => s!.Steps)
            .AsSingleQuery()
            .SingleOrDefaultAsync(r => r.Id == reservationId, cancellationToken)
            .ConfigureAwait(false);
        if (reservation?.Saga is not { } saga || IsFinished(saga))
        {
            return;
        }

        using var activity = SagaTelemetry.StartSaga(reservationId, saga.TraceParent);
        activity?.SetTag("booking.domain", reservation.Domain.ToString().ToUpperInvariant());

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

    private static bool IsFinished(SagaEntity saga) =>
        saga.State is SagaState.Failed or SagaState.Cancelled || (saga.State == SagaState.Completed && !saga.CancelRequested);

    private async Task ForwardAsync(Reservation reservation, CancellationToken cancellationToken)
    {
        var saga = reservation.Saga!;
        foreach (var step in SagaSteps.For(reservation.Domain))
        {
            if (Succeeded(saga, step))
            {
                continue;
            }

            var result = step == SagaSteps.CompleteReservation
                ? await CompleteAsync(reservation, cancellationToken).ConfigureAwait(false)
                : await RecordAsync(reservation, step, ct => RunStepAsync(reservation, step, ct), persist: false, cancellationToken).ConfigureAwait(false);

            switch (result.Outcome)
            {
                case StepOutcome.Succeeded:
                    continue;
                case StepOutcome.Retry when time.GetUtcNow() < saga.DeadlineAt:
                    // ScheduleRetryAsync also persists the step records made so far.
                    await ScheduleRetryAsync(saga, cancellationToken).ConfigureAwait(false);
                    return;
                default:
                    var reason = result.Outcome == StepOutcome.Retry ? $"Gave up after the saga deadline: {result.Error}" : result.Error;
                    saga.State = SagaState.Compensating;
                    reservation.FailureReason = Truncate(reason, 1000);
                    saga.UpdatedAt = time.UtcNowMicros();
                    await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
                    await CompensateAsync(reservation, cancelling: false, cancellationToken).ConfigureAwait(false);
                    return;
            }
        }
    }

    /// <summary>
    /// Runs the compensation of every step, newest first, then records the final status. A step may have taken
    /// effect without a record (a crash between its effect and the commit), and compensations are idempotent, so
    /// all of them run rather than only those of recorded steps.
    /// </summary>
    private async Task CompensateAsync(Reservation reservation, bool cancelling, CancellationToken cancellationToken)
    {
        var saga = reservation.Saga!;
        foreach (var step in SagaSteps.For(reservation.Domain).Reverse())
        {
            if (SagaSteps.CompensationOf(step) is not { } compensation || Succeeded(saga, compensation))
            {
                continue;
            }

            var result = await RecordAsync(reservation, compensation, ct => RunStepAsync(reservation, compensation, ct), persist: true, cancellationToken).ConfigureAwait(false);
            if (result.Outcome != StepOutcome.Succeeded)
            {
                // Compensation has no deadline: it is retried until it succeeds.
                await ScheduleRetryAsync(saga, cancellationToken).ConfigureAwait(false);
                return;
            }
        }

        var now = time.UtcNowMicros();
        saga.State = cancelling ? SagaState.Cancelled : SagaState.Failed;
        saga.NextAttemptAt = null;
        saga.UpdatedAt = now;
        reservation.Status = cancelling ? ReservationStatus.Cancelled : ReservationStatus.Failed;
        reservation.UpdatedAt = now;
        OutboxWriter.Add(db, cancelling ? BookingTopics.Cancelled : BookingTopics.Failed, reservation, now);
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        RecordFinal(reservation);
    }

    /// <summary>CONFIRMED, the step record and the completed event commit together.</summary>
    private async Task<StepResult> CompleteAsync(Reservation reservation, CancellationToken cancellationToken)
    {
        var saga = reservation.Saga!;
        using var activity = SagaTelemetry.StartStep(SagaSteps.CompleteReservation, reservation.Id);
        var now = time.UtcNowMicros();
        saga.Steps.Add(new SagaStep
        {
            Name = SagaSteps.CompleteReservation,
            Status = SagaStepStatus.Succeeded,
            Attempt = saga.Attempts + 1,
            StartedAt = now,
            FinishedAt = now,
        });
        saga.State = SagaState.Completed;
        saga.NextAttemptAt = null;
        saga.UpdatedAt = now;
        reservation.Status = ReservationStatus.Confirmed;
        reservation.ConfirmedAt = now;
        reservation.UpdatedAt = now;
        OutboxWriter.Add(db, BookingTopics.Completed, reservation, now);
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        activity?.SetTag("saga.outcome", "SUCCEEDED");
        telemetry.Steps.Add(1, new KeyValuePair<string, object?>("step", SagaSteps.CompleteReservation), new KeyValuePair<string, object?>("outcome", "SUCCEEDED"));
        RecordFinal(reservation);
        return StepResult.Done;
    }

    /// <summary>
    /// Runs a step and adds its record to the saga's log. With <paramref name="persist"/> (compensations) the record
    /// is committed as RUNNING first and again when it ends; forward steps are committed with whatever comes next.
    /// </summary>
    private async Task<StepResult> RecordAsync(Reservation reservation, string step, Func<CancellationToken, Task<StepResult>> run, bool persist, CancellationToken cancellationToken)
    {
        var saga = reservation.Saga!;
        using var activity = SagaTelemetry.StartStep(step, reservation.Id);
        var record = RecordFor(saga, step);
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
            result = await run(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
        {
            // Unreachable Redis or performance service, timeouts, an open circuit: all worth another try later.
            result = StepResult.Retry($"{exception.GetType().Name}: {exception.Message}");
        }

        record.Status = result.Outcome == StepOutcome.Succeeded ? SagaStepStatus.Succeeded : SagaStepStatus.Failed;
        record.Error = Truncate(result.Error, 2000);
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
            LogStepFailed(reservation.Id, step, outcome, result.Error);
        }

        var tags = new TagList { { "step", step }, { "outcome", outcome } };
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

    private async Task<StepResult> RunStepAsync(Reservation reservation, string step, CancellationToken cancellationToken)
    {
        var resource = reservation.Resource;
        switch (step)
        {
            case SagaSteps.ConfirmHold:
                return await holds.ConfirmAsync(resource, reservation.HoldId, reservation.Id).ConfigureAwait(false) switch
                {
                    ConfirmOutcome.Confirmed or ConfirmOutcome.AlreadyConfirmed => StepResult.Done,
                    ConfirmOutcome.Expired => StepResult.Fail("HOLD_EXPIRED: the hold expired before it was confirmed."),
                    ConfirmOutcome.Released => StepResult.Fail("HOLD_RELEASED: the hold was released before it was confirmed."),
                    _ => StepResult.Fail("HOLD_NOT_FOUND: the hold no longer exists."),
                };
            case SagaSteps.ReleaseUnits:
                await holds.UnbookAsync(resource, reservation.HoldId,
                    new KnownUnits(reservation.SeatIds, reservation.Quantity, Succeeded(reservation.Saga!, SagaSteps.ConfirmHold))).ConfigureAwait(false);
                return StepResult.Done;
            case SagaSteps.AllocateSection:
                foreach (var section in Sections(reservation))
                {
                    var allocated = await performances.AllocateAsync(reservation.ResourceId, section.Key, reservation.Id, section.Count(), cancellationToken).ConfigureAwait(false);
                    if (allocated.Outcome != StepOutcome.Succeeded)
                    {
                        return allocated;
                    }
                }

                return StepResult.Done;
            case SagaSteps.DeallocateSection:
                foreach (var section in Sections(reservation))
                {
                    var released = await performances.DeallocateAsync(reservation.ResourceId, section.Key, reservation.Id, cancellationToken).ConfigureAwait(false);
                    if (released.Outcome != StepOutcome.Succeeded)
                    {
                        return released;
                    }
                }

                return StepResult.Done;
            default:
                throw new InvalidOperationException($"Unknown saga step {step}.");
        }
    }

    private async Task ScheduleRetryAsync(SagaEntity saga, CancellationToken cancellationToken)
    {
        var now = time.UtcNowMicros();
        saga.NextAttemptAt = now + sagaOptions.Value.Backoff(saga.Attempts);
        saga.Attempts++;
        saga.UpdatedAt = now;
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
    }

    private void RecordFinal(Reservation reservation)
    {
        telemetry.Reservations.Add(1, new KeyValuePair<string, object?>("status", reservation.Status.ToString().ToUpperInvariant()));
        telemetry.SagaDuration.Record((time.GetUtcNow() - reservation.CreatedAt).TotalMilliseconds,
            new KeyValuePair<string, object?>("status", reservation.Status.ToString().ToUpperInvariant()));
    }

    private static bool Succeeded(SagaEntity saga, string step) =>
        saga.Steps.Any(s => s.Name == step && s.Status == SagaStepStatus.Succeeded);

    private static IEnumerable<IGrouping<string, string>> Sections(Reservation reservation) =>
        reservation.SeatIds.GroupBy(seat => seat[..seat.IndexOf('-', StringComparison.Ordinal)], StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal);

    private static string? Truncate(string? value, int max) => value is null || value.Length <= max ? value : value[..max];

    [LoggerMessage(Level = LogLevel.Warning, Message = "Saga {ReservationId}: {Step} ended {Outcome}: {Error}")]
    private partial void LogStepFailed(Guid reservationId, string step, string outcome, string? error);
}
