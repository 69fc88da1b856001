using Booking.Core.Reservations;

namespace Booking.Core.Outbox;

/// <summary>The value of every reservation event on Kafka (API.md, "Kafka events").</summary>
public sealed record BookingEvent(Guid Id, string Type, DateTimeOffset OccurredAt, Guid ReservationId, ReservationDto Data);

public static class BookingTopics
{
    public const string Requested = "booking.reservation.requested";
    public const string Completed = "booking.reservation.completed";
    public const string Failed = "booking.reservation.failed";
    public const string Cancelled = "booking.reservation.cancelled";

    public static readonly IReadOnlyList<string> All = [Requested, Completed, Failed, Cancelled];
}
