using System.Text.Json;
using Booking.Core;
using Booking.Core.Lua;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Booking.Api.Idempotency;

/// <summary>A response kept under an Idempotency-Key; <see cref="Completed"/> false is the claim of a request still running.</summary>
public sealed record StoredResponse(string Fingerprint, bool Completed, int Status, string? ContentType, string? Location, string? Body, Guid Claim = default);

/// <summary>
/// Idempotency-Key records in Redis, per caller: <c>idem:{caller}:KEY</c> holds the claim or the response;
/// <c>idem:{caller}#index</c> (a name no key can take) orders the caller's keys, and <c>#sizes</c> and <c>#bytes</c>
/// count what their answers take, so that at most <see cref="BookingOptions.IdempotencyRecordsPerUser"/> records and
/// <see cref="BookingOptions.IdempotencyBytesPerUser"/> bytes are kept, the oldest going first. In the names the caller
/// is written with <c>%</c>, <c>{</c> and <c>}</c> percent-encoded: the first <c>}</c> ends it, so no two callers' (or
/// one caller's record and index) names meet, whatever a caller's id or key holds.
/// </summary>
public sealed class IdempotencyStore(IConnectionMultiplexer redis, LuaRunner lua, IOptions<BookingOptions> options)
{
    public TimeSpan Lease => options.Value.IdempotencyLease;

    public static RedisKey RecordKey(string caller, string key) => $"{Prefix(caller)}{key}";

    /// <summary>Claims the key for a new request; false when a record (claim or response) is already there.</summary>
    public async Task<bool> TryClaimAsync(string caller, string key, StoredResponse claim)
    {
        var result = await lua.RunAsync(lua.Scripts.IdempotencyClaim, CallerKeys(caller, key),
        [
            JsonSerializer.Serialize(claim),
            (long)Lease.TotalMilliseconds,
            key,
            options.Value.IdempotencyRecordsPerUser,
            (long)options.Value.IdempotencyRetention.TotalMilliseconds,
            Prefix(caller),
        ], 1).ConfigureAwait(false);
        return (int)result[0] == 1;
    }

    public async Task<StoredResponse?> ReadAsync(string caller, string key)
    {
        var value = await redis.GetDatabase().StringGetAsync(RecordKey(caller, key)).ConfigureAwait(false);
        return value.IsNull ? null : JsonSerializer.Deserialize<StoredResponse>(value.ToString());
    }

    /// <summary>Keeps a running request's claim alive until <paramref name="stopping"/> is cancelled.</summary>
    public async Task RenewWhileRunningAsync(string caller, string key, StoredResponse claim, CancellationToken stopping)
    {
        var value = JsonSerializer.Serialize(claim);
        using var timer = new PeriodicTimer(Lease / 3);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
            {
                await UpdateAsync(caller, key, value, value, Lease).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            // Redis is away: the request's own Redis calls fail too, and its outcome is not stored.
        }
    }

    /// <summary>Stores the response in place of this request's claim (not if the caller's bound dropped the claim meanwhile).</summary>
    public Task CompleteAsync(string caller, string key, StoredResponse claim, StoredResponse response) =>
        UpdateAsync(caller, key, JsonSerializer.Serialize(claim), JsonSerializer.Serialize(response), options.Value.IdempotencyRetention);

    /// <summary>Frees the key if it still holds this request's claim, so that a retry runs again.</summary>
    public Task ReleaseAsync(string caller, string key, StoredResponse claim) =>
        UpdateAsync(caller, key, JsonSerializer.Serialize(claim), string.Empty, TimeSpan.Zero);

    private async Task UpdateAsync(string caller, string key, string claim, string value, TimeSpan ttl) =>
        await lua.RunAsync(lua.Scripts.IdempotencyUpdate, CallerKeys(caller, key),
            [claim, value, (long)ttl.TotalMilliseconds, key, options.Value.IdempotencyBytesPerUser, Prefix(caller)], 1).ConfigureAwait(false);

    private static string Prefix(string caller) => $"{CallerTag(caller)}:";

    private static string CallerTag(string caller) =>
        $"idem:{{{caller.Replace("%", "%25", StringComparison.Ordinal).Replace("{", "%7B", StringComparison.Ordinal).Replace("}", "%7D", StringComparison.Ordinal)}}}";

    /// <summary>The record, then the caller's index, answer sizes and their total: the order both scripts take.</summary>
    private static RedisKey[] CallerKeys(string caller, string key)
    {
        var tag = CallerTag(caller);
        return [RecordKey(caller, key), $"{tag}#index", $"{tag}#sizes", $"{tag}#bytes"];
    }
}
