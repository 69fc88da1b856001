using Booking.Core.Data;
using Booking.Core.Holds;
using Booking.Core.Seats;

namespace Booking.SagaWorker.Saga;

/// <summary>The names of the saga's steps, as each step's record in the saga log carries them (DESIGN.md, "Reservation saga").</summary>
public static class SagaSteps
{
    /// <summary>Lua: hold -> booked. Compensation: <see cref="ReleaseUnits"/>.</summary>
    public const string ConfirmHold = "ConfirmHold";

    /// <summary>Performance service allocation per section, under the section lock. Compensation: <see cref="DeallocateSection"/>.</summary>
    public const string AllocateSection = "AllocateSection";

    /// <summary>Status CONFIRMED plus the completed event, in one transaction. Nothing to compensate.</summary>
    public const string CompleteReservation = "CompleteReservation";

    public const string ReleaseUnits = "ReleaseUnits";
    public const string DeallocateSection = "DeallocateSection";
}

/// <summary>The saga's steps: what each does, and what undoes it; the flow that runs them is in SagaOrchestrator.cs.</summary>
public sealed partial class SagaOrchestrator
{
    /// <summary>A step: the name its record carries, what it does (idempotent), and the step that undoes it.</summary>
    private sealed record Step(string Name, Func<SagaOrchestrator, Reservation, CancellationToken, Task<StepResult>> RunAsync, Step? Compensation = null);

    private static readonly Step ReleaseUnits = new(SagaSteps.ReleaseUnits, static (saga, reservation, _) => saga.ReleaseUnitsAsync(reservation));

    private static readonly Step DeallocateSection = new(
        SagaSteps.DeallocateSection, static (saga, reservation, cancellationToken) => saga.DeallocateSectionAsync(reservation, cancellationToken));

    private static readonly Step ConfirmHold = new(SagaSteps.ConfirmHold, static (saga, reservation, _) => saga.ConfirmHoldAsync(reservation), ReleaseUnits);

    private static readonly Step AllocateSection = new(
        SagaSteps.AllocateSection, static (saga, reservation, _) => saga.AllocateSectionAsync(reservation), DeallocateSection);

    private static readonly Step[] SeatedSteps = [ConfirmHold, AllocateSection];
    private static readonly Step[] CountedSteps = [ConfirmHold];

    /// <summary>
    /// The forward steps, in order, before <see cref="SagaSteps.CompleteReservation"/> (which commits the final status
    /// and its event, and is the orchestrator's own): performances allocate sections in the performance service;
    /// exhibitions and restaurants have no such step.
    /// </summary>
    private static Step[] StepsBeforeCompletion(BookingDomain domain) => domain == BookingDomain.Performance ? SeatedSteps : CountedSteps;

    /// <summary>Lua: the hold's units become booked. An expired, released or vanished hold fails the saga.</summary>
    private async Task<StepResult> ConfirmHoldAsync(Reservation reservation) =>
        await holds.ConfirmAsync(reservation.Resource, reservation.HoldId, reservation.Id).ConfigureAwait(false) switch
        {
            ConfirmOutcome.Confirmed or ConfirmOutcome.AlreadyConfirmed => StepResult.Done,
            ConfirmOutcome.Expired => StepResult.Fail(SagaFailureCodes.HoldExpired, "the hold expired before it was confirmed."),
            ConfirmOutcome.Released => StepResult.Fail(SagaFailureCodes.HoldReleased, "the hold was released before it was confirmed."),
            _ => StepResult.Fail(SagaFailureCodes.HoldNotFound, "the hold no longer exists."),
        };

    /// <summary>Compensates <see cref="ConfirmHoldAsync"/>: the units go back, whether they were booked or still held.</summary>
    private async Task<StepResult> ReleaseUnitsAsync(Reservation reservation)
    {
        await holds.UnbookAsync(reservation.Resource, reservation.HoldId,
            new KnownUnits(reservation.SeatIds, reservation.Quantity, Succeeded(reservation.Saga!, SagaSteps.ConfirmHold))).ConfigureAwait(false);
        return StepResult.Done;
    }

    /// <summary>The performance service allocates every section of the seats, batched with other sagas' allocations.</summary>
    private async Task<StepResult> AllocateSectionAsync(Reservation reservation) =>
        // A resource id that is not a performance id has no sections to allocate: the service would say 404.
        Guid.TryParse(reservation.ResourceId, out var performanceId)
            ? await allocations.AllocateAsync(performanceId, Sections(reservation).Select(s => (s.Key, s.Count())), reservation.Id).ConfigureAwait(false)
            : StepResult.Fail(SagaFailureCodes.NotFound, $"performance {reservation.ResourceId} does not exist.");

    /// <summary>Compensates <see cref="AllocateSectionAsync"/>, section by section; releasing twice is fine.</summary>
    private async Task<StepResult> DeallocateSectionAsync(Reservation reservation, CancellationToken cancellationToken)
    {
        foreach (var section in Sections(reservation))
        {
            var released = await performances.DeallocateAsync(reservation.ResourceId, section.Key, reservation.Id, cancellationToken).ConfigureAwait(false);
            if (released.Outcome != StepOutcome.Succeeded)
            {
                return released;
            }
        }

        return StepResult.Done;
    }

    private static IEnumerable<IGrouping<string, string>> Sections(Reservation reservation) =>
        reservation.SeatIds.GroupBy(SeatIds.Section, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal);
}
