namespace Booking.Core.Data;

/// <summary>
/// One named seat of a live (PENDING, CONFIRMED or CANCELLING) reservation. Its key is the seat, so PostgreSQL
/// refuses a second live reservation of it: the final guard under Redis, which may lose its last second of
/// writes. A trigger on <c>reservations</c> keeps this table (rows added with the reservation, removed when it
/// ends FAILED or CANCELLED); no code writes it.
/// </summary>
public sealed class ReservationSeat
{
    public const string KeyName = "pk_reservation_seats";

    public required string ResourceId { get; set; }
    public required string SeatId { get; set; }
    public Guid ReservationId { get; set; }
}
