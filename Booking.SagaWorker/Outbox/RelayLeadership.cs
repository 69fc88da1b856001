namespace Booking.SagaWorker.Outbox;

/// <summary>
/// Whether this worker's outbox relay holds the leader's lock now. What is the same whichever worker reads it (the
/// backlog gauges, read from the database) is reported by the leader alone, so a sum over workers counts it once.
/// </summary>
public sealed class RelayLeadership
{
    private volatile bool _leading;

    public bool Leading
    {
        get => _leading;
        internal set => _leading = value;
    }
}
