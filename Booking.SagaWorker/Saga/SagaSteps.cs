using Booking.Core.Holds;

namespace Booking.SagaWorker.Saga;

/// <summary>The saga's steps in order, per domain, and the compensation of each (DESIGN.md, "Reservation saga").</summary>
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

    private static readonly string[] SeatedSteps = [ConfirmHold, AllocateSection, CompleteReservation];
    private static readonly string[] CountedSteps = [ConfirmHold, CompleteReservation];

    /// <summary>Performances allocate sections in the performance service; exhibitions and restaurants have no such step.</summary>
    public static IReadOnlyList<string> For(BookingDomain domain) => domain == BookingDomain.Performance ? SeatedSteps : CountedSteps;

    public static string? CompensationOf(string step) => step switch
    {
        ConfirmHold => ReleaseUnits,
        AllocateSection => DeallocateSection,
        _ => null,
    };
}

/// <summary>What running a step came to.</summary>
public readonly record struct StepResult(StepOutcome Outcome, string? Error)
{
    public static StepResult Done => new(StepOutcome.Succeeded, null);

    /// <summary>Worth trying again later (a dependency was unreachable or slow).</summary>
    public static StepResult Retry(string error) => new(StepOutcome.Retry, error);

    /// <summary>Final: the saga must compensate (hold expired, section sold out).</summary>
    public static StepResult Fail(string error) => new(StepOutcome.Failed, error);
}

public enum StepOutcome
{
    Succeeded,
    Retry,
    Failed,
}
