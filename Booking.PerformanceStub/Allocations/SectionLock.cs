using Medallion.Threading.Redis;
using StackExchange.Redis;

namespace Booking.PerformanceStub.Allocations;

/// <summary>
/// The lock per (performance, section) under which a section's <c>remaining</c> changes: a Redis lock with a
/// token and a TTL, released by compare-and-delete (DistributedLock.Redis), so a crashed holder frees it by expiry.
/// </summary>
public sealed class SectionLock(IConnectionMultiplexer redis)
{
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(10);

    public async Task<IAsyncDisposable> AcquireAsync(Guid performanceId, string sectionCode, CancellationToken cancellationToken)
    {
        var name = $"lock:perf:{{{performanceId:D}}}:section:{sectionCode}";
        var handle = await new RedisDistributedLock(name, redis.GetDatabase(), options => options.Expiry(TimeSpan.FromSeconds(30)))
            .TryAcquireAsync(WaitLimit, cancellationToken)
            .ConfigureAwait(false);
        return handle ?? throw new TimeoutException($"The lock of section {sectionCode} of performance {performanceId} was not free within {WaitLimit.TotalSeconds:0} s.");
    }
}
