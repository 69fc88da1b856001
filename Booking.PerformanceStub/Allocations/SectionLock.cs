using Medallion.Threading.Redis;
using StackExchange.Redis;

namespace Booking.PerformanceStub.Allocations;

/// <summary>
/// The lock per (performance, section) under which a section's <c>remaining</c> changes: a Redis lock with a
/// token and a TTL, released by compare-and-delete (DistributedLock.Redis), so a crashed holder frees it by expiry
/// and several instances of the service exclude each other. Callers of one instance first queue on an in-process
/// FIFO semaphore per section, so only one of them at a time polls Redis and the handoff between them is immediate
/// instead of a busy-wait sleep. A section's semaphore lives only while someone holds or waits for it, so memory
/// does not grow with every section (or made-up section code) ever asked for. The database checks each change as
/// well (a conditional statement), so even a lock lost to a Redis restart cannot make a count drift: the loser's
/// change finds nothing to do or is refused.
/// </summary>
public sealed class SectionLock(IConnectionMultiplexer redis)
{
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(10);
    private readonly Dictionary<string, Gate> _gates = new(StringComparer.Ordinal);

    /// <summary>Sections with callers holding or waiting for their lock in this process.</summary>
    public int ActiveSections
    {
        get
        {
            lock (_gates)
            {
                return _gates.Count;
            }
        }
    }

    public async Task<IAsyncDisposable> AcquireAsync(Guid performanceId, string sectionCode, CancellationToken cancellationToken)
    {
        var name = $"lock:perf:{{{performanceId:D}}}:section:{sectionCode}";
        var gate = Enter(name);
        try
        {
            if (!await gate.Semaphore.WaitAsync(WaitLimit, cancellationToken).ConfigureAwait(false))
            {
                throw new TimeoutException($"Section {sectionCode} of performance {performanceId} stayed busy for {WaitLimit.TotalSeconds:0} s.");
            }
        }
        catch
        {
            Leave(name, gate);
            throw;
        }

        try
        {
            var handle = await new RedisDistributedLock(name, redis.GetDatabase(), options => options.Expiry(TimeSpan.FromSeconds(30)))
                .TryAcquireAsync(WaitLimit, cancellationToken)
                .ConfigureAwait(false)
                ?? throw new TimeoutException($"The lock of section {sectionCode} of performance {performanceId} was not free within {WaitLimit.TotalSeconds:0} s.");
            return new Held(handle, () => Release(name, gate));
        }
        catch
        {
            Release(name, gate);
            throw;
        }
    }

    private Gate Enter(string name)
    {
        lock (_gates)
        {
            if (!_gates.TryGetValue(name, out var gate))
            {
                _gates[name] = gate = new Gate();
            }

            gate.Users++;
            return gate;
        }
    }

    private void Release(string name, Gate gate)
    {
        gate.Semaphore.Release();
        Leave(name, gate);
    }

    private void Leave(string name, Gate gate)
    {
        lock (_gates)
        {
            if (--gate.Users == 0)
            {
                _gates.Remove(name);
            }
        }
    }

    /// <summary>A section's semaphore and how many callers hold or wait for it.</summary>
    private sealed class Gate
    {
        public SemaphoreSlim Semaphore { get; } = new(1, 1);

        public int Users { get; set; }
    }

    private sealed class Held(IAsyncDisposable distributed, Action release) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            try
            {
                await distributed.DisposeAsync().ConfigureAwait(false);
            }
            finally
            {
                release();
            }
        }
    }
}

/// <summary>A section's lock was no longer this caller's when it came to change the section: nothing was changed; try again.</summary>
public sealed class SectionLockLostException(string message) : TimeoutException(message);
