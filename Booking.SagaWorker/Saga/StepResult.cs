namespace Booking.SagaWorker.Saga;

/// <summary>
/// Why a saga failed: its reservation's <c>failureCode</c> (and the first word of its <c>failureReason</c> and of the
/// failed step's error). An
/// allocation the performance service refused carries that service's own code as it gave it
/// (<c>SECTION_SOLD_OUT</c>, <c>ALLOCATION_RELEASED</c>).
/// </summary>
public static class SagaFailureCodes
{
    public const string HoldExpired = "HOLD_EXPIRED";
    public const string HoldReleased = "HOLD_RELEASED";
    public const string HoldNotFound = "HOLD_NOT_FOUND";

    /// <summary>The reservation's performance does not exist (the performance service's 404, or not a performance id).</summary>
    public const string NotFound = ProblemCodes.NotFound;

    /// <summary>A dependency kept failing until the saga's deadline.</summary>
    public const string DeadlinePassed = "DEADLINE_PASSED";

    /// <summary>A step that may succeed when tried again (the dependency was unreachable, slow or refused for now).</summary>
    public const string Unavailable = ProblemCodes.DependencyUnavailable;
}

/// <summary>What running a step came to: its outcome and, when it did not succeed, a code and what happened.</summary>
public readonly record struct StepResult(StepOutcome Outcome, string? Code, string? Message)
{
    public static StepResult Done => new(StepOutcome.Succeeded, null, null);

    /// <summary>The step log's and the failure reason's text: the code first.</summary>
    public string? Error => Code is null ? null : $"{Code}: {Message}";

    /// <summary>Worth trying again later (a dependency was unreachable or slow).</summary>
    public static StepResult Retry(string message) => new(StepOutcome.Retry, SagaFailureCodes.Unavailable, message);

    /// <summary>Final: the saga must compensate (hold expired, section sold out).</summary>
    public static StepResult Fail(string code, string message) => new(StepOutcome.Failed, code, message);
}

public enum StepOutcome
{
    Succeeded,
    Retry,
    Failed,
}
