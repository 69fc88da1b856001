using Booking.Core.Lua;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Booking.Core.Holds;

/// <summary>
/// The operations every hold has, seat or capacity: find it, release it, confirm it into a booking, and
/// give its units back (compensation). Each is one Lua call on the hold's resource.
/// </summary>
public sealed class HoldEngine(LuaRunner lua, IConnectionMultiplexer redis, IOptions<BookingOptions>? options = null)
{
    private readonly TimeSpan _bookedRetention = BookingOptions.BookedRetention(options);

    private static readonly TimeSpan IndexRetention = TimeSpan.FromDays(2);

    /// <summary>Where a hold lives, so that a hold id alone (DELETE, reservation) finds its resource.</summary>
    public static RedisKey IndexKey(Guid holdId) => $"hold:{{{holdId:D}}}";

    /// <summary>
    /// Sends the index entry of a new hold. Callers start it next to the hold script without awaiting in between,
    /// so the multiplexer pipelines both into one round trip.
    /// </summary>
    public static Task WriteIndexAsync(IDatabaseAsync database, Guid holdId, ResourceRef resource, string userId, TimeSpan holdTtl)
    {
        var key = IndexKey(holdId);
        var write = database.HashSetAsync(key,
        [
            new("domain", resource.Domain.Code()),
            new("resource", resource.ResourceId),
            new("slot", resource.Slot ?? string.Empty),
            new("user", userId),
        ]);
        _ = database.KeyExpireAsync(key, holdTtl + IndexRetention, flags: CommandFlags.FireAndForget);
        return write;
    }

    public static void ForgetIndex(IDatabase database, Guid holdId) =>
        database.KeyDelete(IndexKey(holdId), CommandFlags.FireAndForget);

    /// <summary>
    /// Runs a hold script (<c>hold_seats</c>, <c>hold_capacity</c>) with its common arguments (base, hold id, user,
    /// TTL) followed by <paramref name="extra"/>, pipelined with the hold's index entry, which is removed again
    /// unless the hold was taken. OK, EXISTS (a retried call) and NOT_LOADED mean the same for every resource;
    /// <paramref name="refused"/> reads the script's other answers.
    /// </summary>
    internal static async Task<HoldAttempt> RunHoldScriptAsync(
        LuaRunner lua,
        IDatabase database,
        Lua.LuaScript script,
        ResourceRef resource,
        Guid holdId,
        string userId,
        TimeSpan ttl,
        IReadOnlyList<RedisValue> extra,
        int units,
        Func<RedisResult[], HoldAttempt> refused)
    {
        var args = new RedisValue[4 + extra.Count];
        args[0] = resource.KeyBase;
        args[1] = holdId.ToString("D");
        args[2] = userId;
        args[3] = (long)ttl.TotalMilliseconds;
        for (var i = 0; i < extra.Count; i++)
        {
            args[4 + i] = extra[i];
        }

        var index = WriteIndexAsync(database, holdId, resource, userId, ttl);
        var result = await lua.RunAsync(script, Keys(resource, holdId), args, units).ConfigureAwait(false);
        await index.ConfigureAwait(false);

        var attempt = (string)result[0]! switch
        {
            "OK" => HoldAttempt.Held(ParseExpiry(result[1])),
            "EXISTS" => HoldAttempt.Held(ParseExpiry(result[2])),
            "NOT_LOADED" => new HoldAttempt(HoldAttemptStatus.NotLoaded, default, [], 0),
            _ => refused(result),
        };
        if (attempt.Status != HoldAttemptStatus.Held)
        {
            ForgetIndex(database, holdId);
        }

        return attempt;
    }

    /// <summary>
    /// Where a hold lives and whose it is, from its index entry alone (one read); null when there is none. The entry
    /// outlives the hold's record, so the hold itself may be gone: the scripts answer that.
    /// </summary>
    public async Task<HoldLocation?> LocateAsync(Guid holdId)
    {
        var index = await redis.GetDatabase().HashGetAllAsync(IndexKey(holdId)).ConfigureAwait(false);
        if (index.Length == 0)
        {
            return null;
        }

        var fields = index.ToDictionary(entry => entry.Name.ToString(), entry => entry.Value.ToString(), StringComparer.Ordinal);
        var resource = new ResourceRef(
            BookingDomains.Parse(fields["domain"]),
            fields["resource"],
            fields["slot"] is { Length: > 0 } slot ? slot : null);
        return new HoldLocation(resource, fields["user"]);
    }

    /// <summary>Finds a hold by id; null when it does not exist (or no longer does).</summary>
    public async Task<HoldRecord?> FindAsync(Guid holdId) =>
        await LocateAsync(holdId).ConfigureAwait(false) is { } location
            ? await ReadAsync(location.Resource, holdId).ConfigureAwait(false)
            : null;

    /// <summary>Reads a hold on a known resource; null when it does not exist.</summary>
    public async Task<HoldRecord?> ReadAsync(ResourceRef resource, Guid holdId)
    {
        var entries = await redis.GetDatabase().HashGetAllAsync(resource.HoldKey(holdId)).ConfigureAwait(false);
        if (entries.Length == 0)
        {
            return null;
        }

        var fields = entries.ToDictionary(entry => entry.Name.ToString(), entry => entry.Value.ToString(), StringComparer.Ordinal);
        if (!fields.TryGetValue("user", out var user) || !fields.TryGetValue("expiresAt", out var expiresAt))
        {
            // Made again by a compensation after the hold's own record expired (unbook_capacity.lua): it names no owner,
            // so it is nobody's hold to read.
            return null;
        }

        var state = Enum.Parse<HoldState>(fields["state"], ignoreCase: true);
        var seats = fields.TryGetValue("seats", out var csv) && csv.Length > 0 ? csv.Split(',') : [];
        var quantity = fields.TryGetValue("quantity", out var q) ? int.Parse(q, System.Globalization.CultureInfo.InvariantCulture) : seats.Length;
        var reservationId = fields.TryGetValue("reservation", out var reservation) ? Guid.Parse(reservation) : (Guid?)null;
        return new HoldRecord(holdId, resource, user, state, seats, quantity, ParseExpiry(expiresAt), reservationId,
            fields.TryGetValue("heldUntil", out var heldUntil) ? ParseExpiry(heldUntil) : null);
    }

    /// <summary>Releases a hold for its owner (<paramref name="userId"/>), or for anyone when it is null.</summary>
    public async Task<ReleaseOutcome> ReleaseAsync(ResourceRef resource, Guid holdId, string? userId)
    {
        var script = resource.IsSeated ? lua.Scripts.ReleaseSeats : lua.Scripts.ReleaseCapacity;
        var result = await lua.RunAsync(script, Keys(resource, holdId), [resource.KeyBase, holdId.ToString("D"), userId ?? string.Empty], 1)
            .ConfigureAwait(false);
        return (string)result[0]! switch
        {
            "OK" => ReleaseOutcome.Released,
            "BOOKED" => ReleaseOutcome.Booked,
            "RESERVED" => ReleaseOutcome.Reserved,
            _ => ReleaseOutcome.NotFound,
        };
    }

    /// <summary>
    /// Pins the user's live hold to the reservation being made from it (Redis's clock decides whether it is still
    /// live): the user can no longer release it and it expires only after <paramref name="lease"/>, so the saga
    /// confirms it however late it runs. Idempotent for the same reservation.
    /// </summary>
    public async Task<PinOutcome> PinAsync(ResourceRef resource, Guid holdId, string userId, Guid reservationId, TimeSpan lease)
    {
        var result = await lua.RunAsync(lua.Scripts.PinHold, Keys(resource, holdId),
            [holdId.ToString("D"), userId, reservationId.ToString("D"), (long)lease.TotalMilliseconds], 1).ConfigureAwait(false);
        return (string)result[0]! switch
        {
            "OK" => PinOutcome.Pinned,
            "EXPIRED" => PinOutcome.Expired,
            "RELEASED" => PinOutcome.Released,
            "NOT_FOUND" => PinOutcome.NotFound,
            _ => PinOutcome.Used,
        };
    }

    /// <summary>Gives a pinned hold back to its user when the reservation could not be stored.</summary>
    public async Task UnpinAsync(ResourceRef resource, Guid holdId, Guid reservationId) =>
        await lua.RunAsync(lua.Scripts.UnpinHold, Keys(resource, holdId), [holdId.ToString("D"), reservationId.ToString("D")], 1).ConfigureAwait(false);

    /// <summary>Turns a live hold into booked units. Idempotent.</summary>
    public async Task<ConfirmOutcome> ConfirmAsync(ResourceRef resource, Guid holdId, Guid reservationId)
    {
        var script = resource.IsSeated ? lua.Scripts.ConfirmSeats : lua.Scripts.ConfirmCapacity;
        var result = await lua.RunAsync(script, Keys(resource, holdId),
            [resource.KeyBase, holdId.ToString("D"), reservationId.ToString("D"), (long)_bookedRetention.TotalMilliseconds], 1).ConfigureAwait(false);
        return (string)result[0]! switch
        {
            "OK" => ConfirmOutcome.Confirmed,
            "ALREADY_CONFIRMED" => ConfirmOutcome.AlreadyConfirmed,
            "EXPIRED" => ConfirmOutcome.Expired,
            "RELEASED" => ConfirmOutcome.Released,
            _ => ConfirmOutcome.NotFound,
        };
    }

    /// <summary>
    /// Compensation: gives back whatever the hold took, booked or held. Idempotent. <paramref name="known"/> is
    /// PostgreSQL's copy of the hold's units, used when its record has outlived <see cref="BookingOptions.BookedHoldRetention"/>.
    /// </summary>
    public async Task<bool> UnbookAsync(ResourceRef resource, Guid holdId, KnownUnits? known = null)
    {
        RedisValue[] args = resource.IsSeated
            ? [resource.KeyBase, holdId.ToString("D"), string.Join(',', known?.SeatIds ?? [])]
            : [resource.KeyBase, holdId.ToString("D"), known?.Quantity ?? 0, known?.Confirmed == true ? "1" : "0"];
        var script = resource.IsSeated ? lua.Scripts.UnbookSeats : lua.Scripts.UnbookCapacity;
        var result = await lua.RunAsync(script, Keys(resource, holdId), args, 1).ConfigureAwait(false);
        return (string)result[0]! == "OK";
    }

    /// <summary>
    /// Reads the state of many holds in one pipelined round of HGETs (null where the record is gone), for the
    /// reconciler to compare with PostgreSQL.
    /// </summary>
    public async Task<HoldState?[]> ReadStatesAsync(IReadOnlyList<(ResourceRef Resource, Guid HoldId)> holds)
    {
        var database = redis.GetDatabase();
        var reads = holds.Select(h => database.HashGetAsync(h.Resource.HoldKey(h.HoldId), "state")).ToArray();
        var values = await Task.WhenAll(reads).ConfigureAwait(false);
        return values.Select(v => v.IsNull ? (HoldState?)null : Enum.Parse<HoldState>(v.ToString(), ignoreCase: true)).ToArray();
    }

    /// <summary>
    /// Repairs a seat hold to what PostgreSQL says (<paramref name="booked"/>: its reservation is CONFIRMED; otherwise
    /// it ended FAILED or CANCELLED). Returns the seats changed and the seats found booked by another hold.
    /// </summary>
    public async Task<(int Changed, int Conflicts)> RepairSeatsAsync(ResourceRef resource, Guid holdId, Guid reservationId, string userId, IReadOnlyList<string> seatIds, bool booked)
    {
        var result = await lua.RunAsync(lua.Scripts.RepairSeats, Keys(resource, holdId),
        [
            resource.KeyBase, holdId.ToString("D"), reservationId.ToString("D"), userId, string.Join(',', seatIds), booked ? "BOOKED" : "FREE",
            (long)_bookedRetention.TotalMilliseconds,
        ], seatIds.Count).ConfigureAwait(false);
        return (string)result[0]! == "REPAIRED" ? ((int)result[1], (int)result[2]) : (0, 0);
    }

    /// <summary>Drops a resource's state (seats or a slot's counters) when no hold is live on it and it went unused for <paramref name="idle"/>.</summary>
    public async Task<bool> EvictIdleAsync(ResourceRef resource, TimeSpan idle)
    {
        var result = await lua.RunAsync(lua.Scripts.EvictIdle, [resource.StateKey, resource.ExpiryKey], [(long)idle.TotalSeconds], 0).ConfigureAwait(false);
        return (int)result[0] == 1;
    }

    /// <summary>
    /// Books a confirmed capacity hold again after Redis lost its hold or its confirm (see repair_capacity.lua).
    /// Null when nothing was changed; otherwise how many units of the slot are now past its capacity.
    /// </summary>
    public async Task<int?> RepairCapacityAsync(ResourceRef resource, Guid holdId, Guid reservationId, string userId, int quantity)
    {
        var result = await lua.RunAsync(lua.Scripts.RepairCapacity, Keys(resource, holdId),
        [
            resource.KeyBase, holdId.ToString("D"), reservationId.ToString("D"), userId, quantity, (long)_bookedRetention.TotalMilliseconds,
        ], 1).ConfigureAwait(false);
        return (string)result[0]! == "REPAIRED" ? (int)result[1] : null;
    }

    /// <summary>
    /// Expires the holds of one resource whose time has passed; returns how many. A performance gives up at most
    /// <paramref name="limit"/> a call (each seat check also sees a stale hold, so the rest can wait); a capacity
    /// slot purges all of them, a page at a time, because its <c>held</c> counter must be exact before anyone reads it.
    /// </summary>
    public async Task<int> SweepAsync(ResourceRef resource, int limit)
    {
        var result = resource.IsSeated
            ? await lua.RunAsync(lua.Scripts.SweepSeats, [resource.StateKey, resource.ExpiryKey], [resource.KeyBase, limit], 0).ConfigureAwait(false)
            : await lua.RunAsync(lua.Scripts.SweepCapacity, [resource.StateKey, resource.ExpiryKey], [resource.KeyBase], 0).ConfigureAwait(false);
        return (int)result[0];
    }

    public static RedisKey[] Keys(ResourceRef resource, Guid holdId) =>
        [resource.StateKey, resource.ExpiryKey, resource.HoldKey(holdId)];

    internal static DateTimeOffset ParseExpiry(RedisResult value) => ParseExpiry((string)value!);

    /// <summary>A time as the scripts keep it: Unix milliseconds.</summary>
    private static DateTimeOffset ParseExpiry(string milliseconds) =>
        DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(milliseconds, System.Globalization.CultureInfo.InvariantCulture));
}
