using System.Collections.Concurrent;
using Medallion.Threading.Redis;
using StackExchange.Redis;

namespace Booking.PerformanceStub.Allocations;

/// <summary>
/// The lock per (performance, section) under which a section's <c>remaining</c> changes: a Redis lock with a
/// token and a TTL, released by compare-and-delete (DistributedLock.Redis), so a crashed holder frees it by expiry
/// and several instances of the service exclude each other. Callers of one instance first queue on an in-process
/// FIFO semaphore per section, so only one of them at a time polls Redis and the handoff between them is
/// immediate instead of a busy-wait sleep.
/// </summary>
public sealed class SectionLock(IConnectionMultiplexer redis)
{
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(10);
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _local = new(StringComparer.Ordinal);

    public async Task<IAsyncDisposable> AcquireAsync(Guid performanceId, string sectionCode, CancellationToken cancellationToken)
    {
        var name = $"lock:perf:{{{performanceId:D}}}:section:{sectionCode}";
        var local = _local.GetOrAdd(name, _ => new SemaphoreSlim(1, 1));
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
