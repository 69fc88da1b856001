namespace Booking.Core.Holds;

public enum HoldState
{
    Held,
    Booked,
    Released,
    Expired,
    Unbooked,
}

/// <summary>A hold as the Lua scripts keep it in Redis.</summary>
public sealed record HoldRecord(
    Guid HoldId,
    ResourceRef Resource,
    string UserId,
    HoldState State,
    IReadOnlyList<string> SeatIds,
    int Quantity,
    DateTimeOffset ExpiresAt);

/// <summary>A hold's resource and owner, as its index entry records them.</summary>
public sealed record HoldLocation(ResourceRef Resource, string UserId);
