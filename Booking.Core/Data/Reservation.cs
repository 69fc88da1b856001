using Booking.Core.Holds;

namespace Booking.Core.Data;

public enum ReservationStatus
{
    Pending,
    Confirmed,
    Failed,
    Cancelling,
    Cancelled,
}

public sealed class Reservation
{
    public Guid Id { get; set; }
    public required string UserId { get; set; }
    public BookingDomain Domain { get; set; }
    public required string ResourceId { get; set; }
    public string? Slot { get; set; }
    public List<string> SeatIds { get; set; } = [];
    public int Quantity { get; set; }

    /// <summary>The hold this reservation was made from; unique, so a hold turns into at most one reservation.</summary>
    public Guid HoldId { get; set; }

    public ReservationStatus Status { get; set; }
    public string? FailureReason { get; set; }
    public ContactInfo? Contact { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public DateTimeOffset? ConfirmedAt { get; set; }

    /// <summary>PostgreSQL's xmin: the API's cancel and the saga never overwrite each other's change.</summary>
    public uint Version { get; set; }

    public List<ReservationDetail> Details { get; set; } = [];
    public Saga? Saga { get; set; }

    public ResourceRef Resource => new(Domain, ResourceId, Slot);
}

public sealed class ContactInfo
{
    public string? Name { get; set; }
    public string? Phone { get; set; }
    public string? Email { get; set; }
}
