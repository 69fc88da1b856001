namespace Booking.Core.Holds;

public enum ReleaseOutcome
{
    Released,
    NotFound,
    Booked,
}

public enum ConfirmOutcome
{
    Confirmed,
    AlreadyConfirmed,
    Expired,
    Released,
    NotFound,
}

/// <summary>What a hold request came to. <see cref="Conflicting"/> lists unavailable or unknown seat ids.</summary>
public sealed record HoldAttempt(HoldAttemptStatus Status, DateTimeOffset ExpiresAt, IReadOnlyList<string> Conflicting, int Available)
{
    public static HoldAttempt Held(DateTimeOffset expiresAt) => new(HoldAttemptStatus.Held, expiresAt, [], 0);
}

public enum HoldAttemptStatus
{
    Held,
    NotLoaded,
    UnknownSeats,
    Unavailable,
}
