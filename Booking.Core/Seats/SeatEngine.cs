using System.Globalization;
using Booking.Core.Holds;
using Booking.Core.Lua;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Booking.Core.Seats;

/// <summary>A seat's state, read from the seat hash.</summary>
public enum SeatStatus
{
    Available,
    Held,
    Booked,
}

/// <summary>A booking that a rebuilt seat state must keep: the hold id its seats are marked with.</summary>
public sealed record SeatBooking(Guid HoldId, string UserId, IReadOnlyList<string> SeatIds);

/// <summary>The seat-specific Lua calls of one performance: hold many seats at once, read and build the map.</summary>
public sealed class SeatEngine(LuaRunner lua, IConnectionMultiplexer redis, IOptions<BookingOptions>? options = null)
{
    /// <summary>Holds every seat or none, in one EVALSHA pipelined with the hold's index entry.</summary>
    public Task<HoldAttempt> HoldAsync(string performanceId, Guid holdId, string userId, TimeSpan ttl, IReadOnlyList<string> seatIds)
    {
        return HoldEngine.RunHoldScriptAsync(
            lua,
            redis.GetDatabase(),
            lua.Scripts.HoldSeats,
            ResourceRef.Performance(performanceId),
            holdId,
            userId,
            ttl,
            seatIds.Select(seat => (RedisValue)seat).ToArray(),
            seatIds.Count,
            result => (string)result[0]! == "UNKNOWN"
                ? new HoldAttempt(HoldAttemptStatus.UnknownSeats, default, Rest(result), 0)
                : new HoldAttempt(HoldAttemptStatus.Unavailable, default, Rest(result), 0));
    }

    /// <summary>Whether the performance's seat state is in Redis.</summary>
    public Task<bool> IsLoadedAsync(string performanceId) => redis.GetDatabase().KeyExistsAsync(ResourceRef.Performance(performanceId).StateKey);

    /// <summary>Every seat's raw state, after expiring holds whose time passed; null when not loaded.</summary>
    public async Task<IReadOnlyDictionary<string, SeatStatus>?> ReadAsync(string performanceId)
    {
        var resource = ResourceRef.Performance(performanceId);
        var result = await lua.RunAsync(lua.Scripts.SeatMap, [resource.StateKey, resource.ExpiryKey], [resource.KeyBase], 0)
            .ConfigureAwait(false);
        if ((string)result[0]! == "NOT_LOADED")
        {
            return null;
        }

        var seats = new Dictionary<string, SeatStatus>((result.Length - 1) / 2, StringComparer.Ordinal);
        for (var i = 1; i + 1 < result.Length; i += 2)
        {
            var value = (string)result[i + 1]!;
            seats[(string)result[i]!] = value[0] switch
            {
                'A' => SeatStatus.Available,
                'H' => SeatStatus.Held,
                _ => SeatStatus.Booked,
            };
        }

        return seats;
    }

    /// <summary>Creates the seat state from the seat map and the bookings PostgreSQL holds; false if it already existed.</summary>
    public async Task<bool> LoadAsync(string performanceId, IReadOnlyList<string> seatIds, IReadOnlyList<SeatBooking> bookings)
    {
        var resource = ResourceRef.Performance(performanceId);
        var args = new List<RedisValue>(3 + seatIds.Count + (bookings.Count * 3))
        {
            resource.KeyBase,
            (long)BookingOptions.BookedRetention(options).TotalMilliseconds,
            seatIds.Count.ToString(CultureInfo.InvariantCulture),
        };
        args.AddRange(seatIds.Select(seat => (RedisValue)seat));
        foreach (var booking in bookings)
        {
            args.Add(booking.HoldId.ToString("D"));
            args.Add(booking.UserId);
            args.Add(string.Join(',', booking.SeatIds));
        }

        var result = await lua.RunAsync(lua.Scripts.LoadSeats, [resource.StateKey], [.. args], seatIds.Count).ConfigureAwait(false);
        return (string)result[0]! == "LOADED";
    }

    private static string[] Rest(RedisResult[] result) => result.Skip(1).Select(item => (string)item!).ToArray();
}
