using System.Globalization;
using Booking.Core.Holds;
using Booking.Core.Lua;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Booking.Core.Capacity;

public sealed record CapacityCounters(int Capacity, int Held, int Booked)
{
    public int Available => Capacity - Held - Booked;
}

/// <summary>A booking that a rebuilt slot must keep counted.</summary>
public sealed record CapacityBooking(Guid HoldId, string UserId, int Quantity);

/// <summary>The counted-capacity Lua calls of one slot.</summary>
public sealed class CapacityEngine(LuaRunner lua, IConnectionMultiplexer redis, IOptions<BookingOptions>? options = null)
{
    /// <summary>Sets the capacity; returns the counters and whether it was accepted (not below held + booked).</summary>
    /// <summary>
    /// Sets the slot's capacity unless that is below what is held and booked; null when the state of an existing slot
    /// (<paramref name="newSlot"/> false) is not in Redis, which must then be loaded first.
    /// </summary>
    public async Task<(bool Accepted, CapacityCounters Counters)?> SetAsync(ResourceRef slot, int capacity, bool newSlot)
    {
        var result = await lua.RunAsync(lua.Scripts.SetCapacity, [slot.StateKey, slot.ExpiryKey], [slot.KeyBase, capacity, newSlot ? "1" : "0"], capacity)
            .ConfigureAwait(false);
        return (string)result[0]! == "NOT_LOADED" ? null : ((string)result[0]! == "OK", Counters(result));
    }

    /// <summary>The counters after expiring holds whose time passed; null when the slot's state is not in Redis.</summary>
    public async Task<CapacityCounters?> ReadAsync(ResourceRef slot)
    {
        var result = await lua.RunAsync(lua.Scripts.CapacityState, [slot.StateKey, slot.ExpiryKey], [slot.KeyBase], 0)
            .ConfigureAwait(false);
        return (string)result[0]! == "OK" ? Counters(result) : null;
    }

    public Task<HoldAttempt> HoldAsync(ResourceRef slot, Guid holdId, string userId, TimeSpan ttl, int quantity) =>
        HoldEngine.RunHoldScriptAsync(
            lua,
            redis.GetDatabase(),
            lua.Scripts.HoldCapacity,
            slot,
            holdId,
            userId,
            ttl,
            [quantity],
            quantity,
            result => new HoldAttempt(HoldAttemptStatus.Unavailable, default, [], int.Parse((string)result[1]!, CultureInfo.InvariantCulture)));

    /// <summary>Creates the slot's state from its stored capacity and bookings; false if it already existed.</summary>
    public async Task<bool> LoadAsync(ResourceRef slot, int capacity, IReadOnlyList<CapacityBooking> bookings)
    {
        var args = new List<RedisValue>(3 + (bookings.Count * 3)) { slot.KeyBase, capacity, (long)BookingOptions.BookedRetention(options).TotalMilliseconds };
        foreach (var booking in bookings)
        {
            args.Add(booking.HoldId.ToString("D"));
            args.Add(booking.UserId);
            args.Add(booking.Quantity);
        }

        var result = await lua.RunAsync(lua.Scripts.LoadCapacity, [slot.StateKey], [.. args], capacity).ConfigureAwait(false);
        return (string)result[0]! == "LOADED";
    }

    private static CapacityCounters Counters(RedisResult[] result) => new(
        int.Parse((string)result[1]!, CultureInfo.InvariantCulture),
        int.Parse((string)result[2]!, CultureInfo.InvariantCulture),
        int.Parse((string)result[3]!, CultureInfo.InvariantCulture));
}
