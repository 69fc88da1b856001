using Booking.Core.Holds;

namespace Booking.Core.Data;

/// <summary>The durable record of a slot's capacity, from which Redis is rebuilt if it loses its data.</summary>
public sealed class CapacitySlot
{
    public BookingDomain Domain { get; set; }
    public required string ResourceId { get; set; }
    public required string Slot { get; set; }
    public int Capacity { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}
