using System.Diagnostics;
using System.Text.Json;
using Booking.Core.Data;
using Booking.Core.Reservations;
using static Booking.Core.Data.ColumnBatch;

namespace Booking.Core.Outbox;

/// <summary>
/// Adds an event to the outbox of the current unit of work, so it commits (or rolls back) with the change it
/// announces. The current trace context travels with it to Kafka and on to the saga.
/// </summary>
public static class OutboxWriter
{
    private const string InsertAll = """
        INSERT INTO outbox_messages (event_id, topic, message_key, payload, trace_parent, trace_state, created_at, attempts)
        SELECT v.event_id, v.topic, v.message_key, v.payload::jsonb, v.trace_parent, v.trace_state, v.created_at, v.attempts
        FROM unnest($1, $2, $3, $4, $5, $6, $7, $8) AS v(event_id, topic, message_key, payload, trace_parent, trace_state, created_at, attempts)
        """;

    public static OutboxMessage Add(BookingDbContext db, string topic, Reservation reservation, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(db);
        var message = Create(topic, reservation, now);
        db.OutboxMessages.Add(message);
        return message;
    }

    /// <summary>Events inserted by one statement of a set-based batch, in the order given.</summary>
    public static void AddAll(ColumnBatch batch, IReadOnlyCollection<OutboxMessage> events)
    {
        ArgumentNullException.ThrowIfNull(batch);
        batch.Add(InsertAll, events,
            Values(events, m => m.EventId),
            Values(events, m => m.Topic),
            Values(events, m => m.MessageKey),
            Values(events, m => m.Payload),
            Values(events, m => m.TraceParent),
            Values(events, m => m.TraceState),
            Values(events, m => m.CreatedAt),
            Values(events, m => m.Attempts));
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
            TraceState = Bounded(activity?.TraceStateString),
            CreatedAt = now,
        };
    }

    /// <summary>
    /// A caller's <c>tracestate</c> cut to what the column keeps: whole list members from the left, as W3C Trace Context
    /// lets a system that cannot carry them all drop members from the end.
    /// </summary>
    public static string? Bounded(string? traceState)
    {
        if (traceState is null || traceState.Length <= OutboxMessage.MaxTraceStateLength)
        {
            return traceState;
        }

        var cut = traceState.LastIndexOf(',', OutboxMessage.MaxTraceStateLength);
        return cut > 0 ? traceState[..cut].TrimEnd() : null;
    }
}
