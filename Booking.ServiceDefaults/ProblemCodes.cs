using Microsoft.AspNetCore.Http;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// The stable machine codes of API.md, carried in every problem's <c>code</c> extension by every service, plus
/// <see cref="InternalError"/> for a fault of the service itself (never for bad input).
/// </summary>
public static class ProblemCodes
{
    public const string ValidationFailed = "VALIDATION_FAILED";
    public const string NotFound = "NOT_FOUND";
    public const string SeatsUnavailable = "SEATS_UNAVAILABLE";
    public const string CapacityUnavailable = "CAPACITY_UNAVAILABLE";
    public const string HoldExpired = "HOLD_EXPIRED";
    public const string HoldAlreadyUsed = "HOLD_ALREADY_USED";
    public const string InvalidState = "INVALID_STATE";
    public const string IdempotencyKeyReused = "IDEMPOTENCY_KEY_REUSED";
    public const string Unauthenticated = "UNAUTHENTICATED";
    public const string Forbidden = "FORBIDDEN";
    public const string RateLimited = "RATE_LIMITED";
    public const string DependencyUnavailable = "DEPENDENCY_UNAVAILABLE";
    public const string InternalError = "INTERNAL_ERROR";

    /// <summary>The code a problem gets when its producer named none (routing 404s, body-size 413s, ...).</summary>
    public static string ForStatus(int status) => status switch
    {
        StatusCodes.Status401Unauthorized => Unauthenticated,
        StatusCodes.Status403Forbidden => Forbidden,
        StatusCodes.Status429TooManyRequests => RateLimited,
        StatusCodes.Status404NotFound => NotFound,
        StatusCodes.Status409Conflict => InvalidState,
        StatusCodes.Status503ServiceUnavailable => DependencyUnavailable,
        >= 400 and < 500 => ValidationFailed,
        _ => InternalError,
    };
}
