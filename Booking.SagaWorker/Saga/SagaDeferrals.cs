using System.Collections.Concurrent;

namespace Booking.SagaWorker.Saga;

/// <summary>
/// Sagas this process keeps out of the sweep for a while because PostgreSQL refused to defer them: their run failed
/// and so did the write that moves their next look later, so their row still says "due", and the longest due at that.
/// The sweep takes the longest-due first: without this, enough such sagas would fill every sweep and starve all the
/// others. Each time a saga is kept out again its time out doubles, up to <see cref="Longest"/>, so however many there
/// are, the sweep meets each seldom. Bounded: past <see cref="Capacity"/> a saga is not kept (the sweep then meets it
/// again, as before), and a saga is forgotten once it has not been kept out again for <see cref="Longest"/>. In memory
/// only: another worker, or this one restarted, tries each once before keeping it out in turn.
/// </summary>
public sealed class SagaDeferrals(TimeProvider time)
{
    public const int Capacity = 10_000;

    /// <summary>The longest a saga is kept out at once.</summary>
    public static readonly TimeSpan Longest = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<Guid, (DateTimeOffset Until, TimeSpan Period)> _kept = new();

    /// <summary>
    /// Keeps the saga out of the sweep for <paramref name="first"/>, or, when it was kept out before, for twice as long
    /// as the last time (at most <see cref="Longest"/>); false when the set is full.
    /// </summary>
    public bool Defer(Guid reservationId, TimeSpan first)
    {
        var now = time.GetUtcNow();
        if (_kept.Count >= Capacity && !_kept.ContainsKey(reservationId))
        {
            Prune(now);
            if (_kept.Count >= Capacity)
            {
                return false;
            }
        }

        _kept.AddOrUpdate(reservationId, _ => (now + first, first), (_, last) =>
        {
            var period = Forgotten(last.Until, now) ? first : RetryDelay.Doubled(last.Period > first ? last.Period : first, Longest);
            return (now + period, period);
        });
        return true;
    }

    /// <summary>The sagas the sweep leaves out now.</summary>
    public Guid[] Current()
    {
        var now = time.GetUtcNow();
        Prune(now);
        return [.. _kept.Where(k => k.Value.Until > now).Select(k => k.Key)];
    }

    /// <summary>Forgets the sagas not kept out again for <see cref="Longest"/> since their time was up.</summary>
    private void Prune(DateTimeOffset now)
    {
        foreach (var entry in _kept)
        {
            if (Forgotten(entry.Value.Until, now))
            {
                _kept.TryRemove(entry);
            }
        }
    }

    private static bool Forgotten(DateTimeOffset until, DateTimeOffset now) => until + Longest <= now;
}
