namespace Booking.Core.Holds;

public enum ReleaseOutcome
{
    Released,
    NotFound,
    Booked,

    /// <summary>A reservation was made from the hold: it is the saga's now (cancel the reservation instead).</summary>
    Reserved,
}

/// <summary>A hold's units as PostgreSQL records them: seats, quantity, and whether the saga confirmed the hold.</summary>
public sealed record KnownUnits(IReadOnlyList<string> SeatIds, int Quantity, bool Confirmed);

/// <summary>What pinning a hold to a new reservation came to.</summary>
public enum PinOutcome
{
    Pinned,
    Expired,

    /// <summary>Released by its user before the reservation could pin it.</summary>
    Released,

    /// <summary>Already booked, pinned to another reservation, or given back by the saga of the reservation it became.</summary>
    Used,
    NotFound,
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
