using Booking.Core.Holds;
using StackExchange.Redis;

namespace Booking.Api.Holds;

/// <summary>
/// The "before" design of the benchmark (<c>Booking:HoldStrategy=naive</c>): one Redis lock per seat, taken in
/// seat order, then a read and a write per seat, each its own round trip. It keeps the same keys and marks as the
/// Lua scripts, so confirmation, release and expiry work on its holds unchanged. Only for comparison.
/// </summary>
public sealed class NaiveSeatHolder(IConnectionMultiplexer redis, TimeProvider time) : ISeatHolder
{
    private static readonly TimeSpan LockTtl = TimeSpan.FromSeconds(5);
    private const int LockAttempts = 20;

    public async Task<HoldAttempt> HoldAsync(string performanceId, Guid holdId, string userId, TimeSpan ttl, IReadOnlyList<string> seatIds)
    {
        var database = redis.GetDatabase();
        var resource = ResourceRef.Performance(performanceId);
        if (!await database.KeyExistsAsync(resource.StateKey).ConfigureAwait(false))
        {
            return new HoldAttempt(HoldAttemptStatus.NotLoaded, default, [], 0);
        }

        var token = Guid.NewGuid().ToString("N");
        var locked = new List<RedisKey>();
        try
        {
            foreach (var seat in seatIds.Order(StringComparer.Ordinal))
            {
                var key = (RedisKey)$"{resource.KeyBase}:lock:{seat}";
                if (!await AcquireAsync(database, key, token).ConfigureAwait(false))
                {
                    return new HoldAttempt(HoldAttemptStatus.Unavailable, default, [seat], 0);
                }

                locked.Add(key);
            }

            var now = time.GetUtcNow();
            return await RefusalAsync(database, resource, seatIds, now).ConfigureAwait(false)
                ?? await WriteHoldAsync(database, resource, holdId, userId, ttl, seatIds, now).ConfigureAwait(false);
        }
        finally
        {
            foreach (var key in locked)
            {
                await database.LockReleaseAsync(key, token).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Seats it does not know, else seats taken by a live hold or a booking, each read in its own round trip.</summary>
    private static async Task<HoldAttempt?> RefusalAsync(IDatabase database, ResourceRef resource, IReadOnlyList<string> seatIds, DateTimeOffset now)
    {
        var unknown = new List<string>();
        var taken = new List<string>();
        foreach (var seat in seatIds)
        {
            var value = await database.HashGetAsync(resource.StateKey, seat).ConfigureAwait(false);
            if (value.IsNull)
            {
                unknown.Add(seat);
            }
            else if (value != "A" && !await IsExpiredHoldAsync(database, resource, value.ToString(), now).ConfigureAwait(false))
            {
                taken.Add(seat);
            }
        }

        return unknown.Count > 0 ? new HoldAttempt(HoldAttemptStatus.UnknownSeats, default, unknown, 0)
            : taken.Count > 0 ? new HoldAttempt(HoldAttemptStatus.Unavailable, default, taken, 0)
            : null;
    }

    /// <summary>The hold record, its expiry entry, its index entry and each seat's mark, one write at a time.</summary>
    private static async Task<HoldAttempt> WriteHoldAsync(IDatabase database, ResourceRef resource, Guid holdId, string userId, TimeSpan ttl, IReadOnlyList<string> seatIds, DateTimeOffset now)
    {
        var expiresAt = now + ttl;
        var holdKey = resource.HoldKey(holdId);
        await database.HashSetAsync(holdKey,
        [
            new("state", "HELD"),
            new("user", userId),
            new("seats", string.Join(',', seatIds)),
            new("expiresAt", expiresAt.ToUnixTimeMilliseconds()),
        ]).ConfigureAwait(false);
        await database.SortedSetAddAsync(resource.ExpiryKey, holdId.ToString("D"), expiresAt.ToUnixTimeMilliseconds()).ConfigureAwait(false);
        await HoldEngine.WriteIndexAsync(database, holdId, resource, userId, ttl).ConfigureAwait(false);
        foreach (var seat in seatIds)
        {
            await database.HashSetAsync(resource.StateKey, seat, $"H:{holdId:D}").ConfigureAwait(false);
        }

        return HoldAttempt.Held(DateTimeOffset.FromUnixTimeMilliseconds(expiresAt.ToUnixTimeMilliseconds()));
    }

    private static async Task<bool> AcquireAsync(IDatabase database, RedisKey key, string token)
    {
        for (var attempt = 0; attempt < LockAttempts; attempt++)
        {
            if (await database.LockTakeAsync(key, token, LockTtl).ConfigureAwait(false))
            {
                return true;
            }

            await Task.Delay(1 + attempt).ConfigureAwait(false);
        }

        return false;
    }

    private static async Task<bool> IsExpiredHoldAsync(IDatabase database, ResourceRef resource, string value, DateTimeOffset now)
    {
        if (!value.StartsWith("H:", StringComparison.Ordinal))
        {
            return false;
        }

        var expiresAt = await database.HashGetAsync(resource.HoldKey(Guid.Parse(value.AsSpan(2))), "expiresAt").ConfigureAwait(false);
        return expiresAt.IsNull || (long)expiresAt <= now.ToUnixTimeMilliseconds();
    }
}
