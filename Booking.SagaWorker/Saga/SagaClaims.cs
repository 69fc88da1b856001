using System.Collections.Concurrent;

namespace Booking.SagaWorker.Saga;

/// <summary>
/// Which sagas run in this process right now, so each runs at most once at a time: a run claims the sagas it takes,
/// gives each back when it is done with it, and leaves to another run any saga already claimed.
/// </summary>
public sealed class SagaClaims
{
    private readonly ConcurrentDictionary<Guid, byte> _running = new();

    /// <summary>Claims those of <paramref name="reservationIds"/> no other run holds; the lease gives back what it still holds when disposed.</summary>
    public Lease Claim(IEnumerable<Guid> reservationIds) => new(this, [.. reservationIds.Distinct().Where(id => _running.TryAdd(id, 0))]);

    public bool IsClaimed(Guid reservationId) => _running.ContainsKey(reservationId);

    /// <summary>
    /// One run's claims. Each is given back once: after that another run may claim the saga for itself, and giving
    /// it back again would free that run's claim while it runs.
    /// </summary>
    public sealed class Lease : IDisposable
    {
        private readonly SagaClaims _claims;
        private readonly ConcurrentDictionary<Guid, byte> _held;

        internal Lease(SagaClaims claims, IReadOnlyList<Guid> claimed)
        {
            _claims = claims;
            _held = new ConcurrentDictionary<Guid, byte>(claimed.Select(id => KeyValuePair.Create(id, (byte)0)));
            Ids = claimed;
        }

        /// <summary>The sagas this lease claimed, in the order asked for, given back or not.</summary>
        public IReadOnlyList<Guid> Ids { get; }

        public void Release(Guid reservationId)
        {
            if (_held.TryRemove(reservationId, out _))
            {
                _claims._running.TryRemove(reservationId, out _);
            }
        }

        public void Dispose()
        {
            foreach (var id in Ids)
            {
                Release(id);
            }
        }
    }
}
