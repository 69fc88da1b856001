using System.Collections.Concurrent;

namespace Booking.SagaWorker.Saga;

/// <summary>
/// Sagas this process keeps out of the sweep for a while because PostgreSQL refused to defer them: their run failed
/// and so did the write that moves their next look later, so their row still says "due". The sweep takes the
/// longest-due first: without this, enough such sagas would fill every sweep and starve all the others. Bounded: past
/// <see cref="Capacity"/> a saga is not kept (the sweep then meets it again, as before), and each leaves when its time
/// is up. In memory only: another worker, or this one restarted, tries each once before keeping it out in turn.
/// </summary>
public sealed class SagaDeferrals(TimeProvider time)
{
    public const int Capacity = 10_000;

    private readonly ConcurrentDictionary<Guid, DateTimeOffset> _until = new();

    /// <summary>Keeps the saga out of the sweep until <paramref name="until"/>; false when the set is full.</summary>
    public bool Defer(Guid reservationId, DateTimeOffset until)
    {
        if (_until.Count >= Capacity && !_until.ContainsKey(reservationId))
        {
            Prune();
            if (_until.Count >= Capacity)
            {
                return false;
            }
        }

        _until[reservationId] = until;
        return true;
    }

    /// <summary>The sagas the sweep leaves out now.</summary>
    public Guid[] Current()
    {
        Prune();
        return [.. _until.Keys];
    }

    private void Prune()
    {
        var now = time.GetUtcNow();
        foreach (var (id, until) in _until)
        {
            if (until <= now)
            {
                _until.TryRemove(KeyValuePair.Create(id, until));
            }
        }
    }
}
