using Confluent.Kafka;

namespace Booking.SagaWorker.Saga;

/// <summary>
/// Which offsets may be committed while messages are processed out of order: per partition, everything below
/// the oldest message still in flight (or after the newest one seen, when none is), so a crash never skips one.
/// Each revoke starts a new generation of the partitions it takes away: messages of those partitions started before it
/// finish without touching what came after, and partitions the consumer keeps (cooperative assignment) keep their state.
/// </summary>
public sealed class OffsetTracker
{
    private readonly Lock _gate = new();
    private readonly Dictionary<TopicPartition, SortedSet<long>> _inFlight = [];
    private readonly Dictionary<TopicPartition, long> _next = [];
    private readonly Dictionary<TopicPartition, long> _committed = [];
    private readonly Dictionary<TopicPartition, int> _generations = [];

    /// <summary>One message in flight, as <see cref="Started"/> recorded it.</summary>
    public readonly record struct Ticket(TopicPartitionOffset Message, int Generation);

    public Ticket Started(TopicPartitionOffset message)
    {
        ArgumentNullException.ThrowIfNull(message);
        lock (_gate)
        {
            if (!_inFlight.TryGetValue(message.TopicPartition, out var offsets))
            {
                _inFlight[message.TopicPartition] = offsets = [];
            }

            offsets.Add(message.Offset.Value);
            _next[message.TopicPartition] = Math.Max(_next.GetValueOrDefault(message.TopicPartition), message.Offset.Value + 1);
            return new Ticket(message, _generations.GetValueOrDefault(message.TopicPartition));
        }
    }

    public void Finished(Ticket ticket)
    {
        lock (_gate)
        {
            // Started before its partition was revoked: the partition's state was forgotten, and the same offset may be
            // in flight again under the new assignment, which this must not release.
            var partition = ticket.Message.TopicPartition;
            if (ticket.Generation == _generations.GetValueOrDefault(partition) && _inFlight.TryGetValue(partition, out var offsets))
            {
                offsets.Remove(ticket.Message.Offset.Value);
            }
        }
    }

    /// <summary>
    /// The offsets to commit now that were not committed before. They count as committed only once
    /// <see cref="Committed"/> says so: a commit that failed offers them again.
    /// </summary>
    public List<TopicPartitionOffset> Committable()
    {
        lock (_gate)
        {
            var result = new List<TopicPartitionOffset>();
            foreach (var (partition, next) in _next)
            {
                var safe = _inFlight.TryGetValue(partition, out var offsets) && offsets.Count > 0 ? offsets.Min : next;
                if (safe > _committed.GetValueOrDefault(partition, -1))
                {
                    result.Add(new TopicPartitionOffset(partition, safe));
                }
            }

            return result;
        }
    }

    /// <summary>Records offsets Kafka accepted, from <see cref="Committable"/>.</summary>
    public void Committed(IEnumerable<TopicPartitionOffset> offsets)
    {
        ArgumentNullException.ThrowIfNull(offsets);
        lock (_gate)
        {
            foreach (var offset in offsets)
            {
                _committed[offset.TopicPartition] = Math.Max(_committed.GetValueOrDefault(offset.TopicPartition, -1), offset.Offset.Value);
            }
        }
    }

    /// <summary>Forgets the partitions a rebalance took from this consumer (only those that move, with incremental assignment).</summary>
    public void Revoked(IEnumerable<TopicPartition> partitions)
    {
        ArgumentNullException.ThrowIfNull(partitions);
        lock (_gate)
        {
            foreach (var partition in partitions)
            {
                _generations[partition] = _generations.GetValueOrDefault(partition) + 1;
                _inFlight.Remove(partition);
                _next.Remove(partition);
                _committed.Remove(partition);
            }
        }
    }
}
