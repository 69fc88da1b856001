using System.Diagnostics;
using System.Text.Json;
using Booking.Core.Data;
using Booking.Core.Reservations;

namespace Booking.Core.Outbox;

/// <summary>
/// Adds an event to the outbox of the current unit of work, so it commits (or rolls back) with the change it
/// announces. The current trace context travels with it to Kafka and on to the saga.
/// </summary>
public static class OutboxWriter
{
    public static OutboxMessage Add(BookingDbContext db, string topic, Reservation reservation, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(db);
        var message = Create(topic, reservation, now);
        db.OutboxMessages.Add(message);
        return message;
    }

    /// <summary>The event as an outbox row, for a unit of work that adds it itself.</summary>
    public static OutboxMessage Create(string topic, Reservation reservation, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(reservation);

        var @event = new BookingEvent(Guid.CreateVersion7(now), topic, now, reservation.Id, ReservationDto.From(reservation));
        var activity = Activity.Current;
        return new OutboxMessage
        {
            EventId = @event.Id,
            Topic = topic,
            MessageKey = reservation.Id.ToString("D"),
            Payload = JsonSerializer.Serialize(@event, BookingJson.Options),
            TraceParent = activity?.Id is { } id && activity.IdFormat == ActivityIdFormat.W3C ? id : null,
            TraceState = activity?.TraceStateString,
            CreatedAt = now,
        };
    }
}
