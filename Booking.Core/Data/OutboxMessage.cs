namespace Booking.Core.Data;

/// <summary>An event written in the same transaction as the change it announces; the relay publishes it to Kafka.</summary>
public sealed class OutboxMessage
{
    /// <summary>The PostgreSQL channel a transaction adding outbox rows notifies when it commits (a trigger does it).</summary>
    public const string NotifyChannel = "booking_outbox";

    /// <summary>Length of the <c>last_error</c> column.</summary>
    public const int MaxErrorLength = 2000;

    /// <summary>Length of the <c>trace_state</c> column: the 512 characters W3C Trace Context asks every system to carry.</summary>
    public const int MaxTraceStateLength = 512;

    public long Id { get; set; }
    public Guid EventId { get; set; }
    public required string Topic { get; set; }

    /// <summary>The Kafka key: the reservation id, so one reservation's events stay in one partition, in order.</summary>
    public required string MessageKey { get; set; }

    public required string Payload { get; set; }
    public string? TraceParent { get; set; }
    public string? TraceState { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? SentAt { get; set; }

    /// <summary>How many times the relay tried the row and Kafka failed or refused it (or, once sent, the tries in all).</summary>
    public int Attempts { get; set; }

    /// <summary>Why Kafka failed or refused the row's last try.</summary>
    public string? LastError { get; set; }

    /// <summary>
    /// Set when Kafka failed the row at once for a reason that is not the row's own (a topic it does not know, or lets
    /// nobody write): until then, the relay sends neither the row nor its reservation's later rows.
    /// </summary>
    public DateTimeOffset? NextAttemptAt { get; set; }

    /// <summary>
    /// Set when Kafka refused the event for good (too large, invalid): the row is kept for an operator and no longer
    /// holds back the events behind it.
    /// </summary>
    public DateTimeOffset? QuarantinedAt { get; set; }
}
