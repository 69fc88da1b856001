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

    /// <summary>A new detail of reservation <paramref name="reservationId"/>, with a copy of <paramref name="data"/>.</summary>
    public static ReservationDetail Create(Guid reservationId, string type, JsonElement data, DateTimeOffset now) => new()
    {
        Id = Guid.CreateVersion7(now),
        ReservationId = reservationId,
        Type = type,
        Data = JsonDocument.Parse(data.GetRawText()),
        CreatedAt = now,
        UpdatedAt = now,
    };

    public void Dispose() => Data.Dispose();
}
