namespace Booking.Core.Holds;

public enum HoldState
{
    Held,
    Booked,
    Released,
    Expired,
    Unbooked,
}

/// <summary>
/// A hold as the Lua scripts keep it in Redis. <see cref="ReservationId"/> names the reservation made from it once the
/// hold is pinned; <see cref="ExpiresAt"/> is then the pin's lease, and <see cref="HeldUntil"/> the hold's own expiry.
/// </summary>
public sealed record HoldRecord(
    Guid HoldId,
    ResourceRef Resource,
    string UserId,
    HoldState State,
    IReadOnlyList<string> SeatIds,
    int Quantity,
    DateTimeOffset ExpiresAt,
    Guid? ReservationId = null,
    DateTimeOffset? HeldUntil = null);

/// <summary>A hold's resource and owner, as its index entry records them.</summary>
public sealed record HoldLocation(ResourceRef Resource, string UserId);
