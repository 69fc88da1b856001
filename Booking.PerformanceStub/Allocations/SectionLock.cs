using Medallion.Threading.Redis;
using StackExchange.Redis;

namespace Booking.PerformanceStub.Allocations;

/// <summary>
/// The lock per (performance, section) under which a section's <c>remaining</c> changes: a Redis lock with a
/// token and a TTL, released by compare-and-delete (DistributedLock.Redis), so a crashed holder frees it by expiry
/// and several instances of the service exclude each other. Callers of one instance first queue on an in-process
/// FIFO semaphore, so only one of them at a time polls Redis and the handoff between them is immediate instead of a
/// busy-wait sleep. The semaphores are a fixed set that sections share by the hash of their lock's name, so memory
/// does not grow with every section (or made-up section code) ever asked for; two sections that share one only wait
/// for each other in this process, and no caller holds two section locks at once, so they cannot deadlock.
/// The database checks each change as well (a conditional statement), so even a lock lost to a Redis restart
/// cannot make a count drift: the loser's change finds nothing to do or is refused.
/// </summary>
public sealed class SectionLock(IConnectionMultiplexer redis)
{
    private const int Stripes = 1024;
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(10);
    private readonly SemaphoreSlim[] _local = [.. Enumerable.Range(0, Stripes).Select(_ => new SemaphoreSlim(1, 1))];

    public async Task<IAsyncDisposable> AcquireAsync(Guid performanceId, string sectionCode, CancellationToken cancellationToken)
    {
        var name = $"lock:perf:{{{performanceId:D}}}:section:{sectionCode}";
        var local = _local[(int)((uint)StringComparer.Ordinal.GetHashCode(name) % Stripes)];
        if (!await local.WaitAsync(WaitLimit, cancellationToken).ConfigureAwait(false))
        {
            throw new TimeoutException($"Section {sectionCode} of performance {performanceId} stayed busy for {WaitLimit.TotalSeconds:0} s.");
        }

        try
        {
            var handle = await new RedisDistributedLock(name, redis.GetDatabase(), options => options.Expiry(TimeSpan.FromSeconds(30)))
                .TryAcquireAsync(WaitLimit, cancellationToken)
                .ConfigureAwait(false)
                ?? throw new TimeoutException($"The lock of section {sectionCode} of performance {performanceId} was not free within {WaitLimit.TotalSeconds:0} s.");
            return new Held(handle, local);
        }
        catch
        {
            local.Release();
            throw;
        }
    }

    private sealed class Held(IAsyncDisposable distributed, SemaphoreSlim local) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            try
            {
                await distributed.DisposeAsync().ConfigureAwait(false);
            }
            finally
            {
                local.Release();
            }
        }
    }
}

/// <summary>A section's lock was no longer this caller's when it came to change the section: nothing was changed; try again.</summary>
public sealed class SectionLockLostException(string message) : TimeoutException(message);
