using StackExchange.Redis;

namespace Booking.Core.Holds;

/// <summary>
/// The set of resources whose state lives in Redis, so the sweeper can expire holds on resources that get no
/// traffic. A resource joins when its state is created (seat map loaded, capacity set), never on the hot path, and
/// leaves when the sweeper finds its state gone, so the set never outgrows what Redis holds.
/// </summary>
public sealed class ResourceRegistry(IConnectionMultiplexer redis)
{
    private static readonly RedisKey Key = "booking:resources";

    /// <summary>Members read per SSCAN call.</summary>
    private const int ScanPage = 500;

    public Task AddAsync(ResourceRef resource) =>
        redis.GetDatabase().SetAddAsync(Key, Format(resource));

    public Task RemoveAsync(ResourceRef resource) =>
        redis.GetDatabase().SetRemoveAsync(Key, Format(resource));

    public async IAsyncEnumerable<ResourceRef> ListAsync()
    {
        var database = redis.GetDatabase();
        await foreach (var member in database.SetScanAsync(Key, pageSize: ScanPage).ConfigureAwait(false))
        {
            var parts = member.ToString().Split('|');
            var resource = new ResourceRef(BookingDomains.Parse(parts[0]), parts[1], parts.Length > 2 ? parts[2] : null);
            if (Format(resource) != member.ToString())
            {
                // Written before the domain had one spelling ("Exhibition|..."): stored again in it.
                await database.SetAddAsync(Key, Format(resource)).ConfigureAwait(false);
                await database.SetRemoveAsync(Key, member).ConfigureAwait(false);
            }

            yield return resource;
        }
    }

    private static string Format(ResourceRef resource) =>
        resource.Slot is null ? $"{resource.Domain.Code()}|{resource.ResourceId}" : $"{resource.Domain.Code()}|{resource.ResourceId}|{resource.Slot}";
}
