using System.Text.Json;

namespace Booking.Core.Data;

/// <summary>A per-domain piece of a reservation (a seat's holder, a ticket type, a table preference), stored as jsonb.</summary>
public sealed class ReservationDetail : IDisposable
{
    public Guid Id { get; set; }
    public Guid ReservationId { get; set; }
    public required string Type { get; set; }
    public required JsonDocument Data { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }

    public void Dispose() => Data.Dispose();
}
