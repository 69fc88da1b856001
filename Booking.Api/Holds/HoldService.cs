using Booking.Api.Capacity;
using Booking.Api.Seats;
using Booking.Core.Capacity;
using Booking.Core.Holds;
using Booking.Core.Seats;
using StackExchange.Redis;

namespace Booking.Api.Holds;

/// <summary>Puts one domain's live state into Redis from its source of truth when Redis does not have it.</summary>
public interface IResourceStateLoader
{
    /// <summary>Loads the resource's state, or finds it loaded; false when the resource does not exist.</summary>
    Task<bool> LoadAsync(ResourceRef resource, CancellationToken cancellationToken);
}

/// <summary>
/// The one way in to a resource's live state in Redis: holding seats or capacity, and reading the seat map or a
/// slot's counters. Each call that finds the state missing (a cold resource, or a Redis that lost its data) loads it
/// once through its domain's loader and runs again; a resource that does not exist comes back as null. The loaders
/// (each with a pooled DbContext, the seat loader also an HttpClient) are resolved from the request's scope only on a
/// miss, so the hot path of a hold does not rent them.
/// </summary>
public sealed partial class HoldService(
    ISeatHolder seatHolder, SeatEngine seats, CapacityEngine capacity, HoldEngine holds, IServiceProvider scope, ILogger<HoldService> logger)
{
    /// <summary>Holds every seat or none, with the hold strategy chosen at start-up.</summary>
    public Task<HoldAttempt?> HoldSeatsAsync(
        ResourceRef performance, Guid holdId, string userId, TimeSpan ttl, IReadOnlyList<string> seatIds, CancellationToken cancellationToken) =>
        GivingBackOnFailureAsync(performance, holdId, userId,
            () => LoadingOnMissAsync(performance, () => seatHolder.HoldAsync(performance.ResourceId, holdId, userId, ttl, seatIds)!, NotLoaded, cancellationToken));

    /// <summary>Holds a quantity of a slot, all or nothing.</summary>
    public Task<HoldAttempt?> HoldCapacityAsync(
        ResourceRef slot, Guid holdId, string userId, TimeSpan ttl, int quantity, CancellationToken cancellationToken) =>
        GivingBackOnFailureAsync(slot, holdId, userId,
            () => LoadingOnMissAsync(slot, () => capacity.HoldAsync(slot, holdId, userId, ttl, quantity)!, NotLoaded, cancellationToken));

    /// <summary>Every seat's status, after expiring holds whose time passed.</summary>
    public Task<IReadOnlyDictionary<string, SeatStatus>?> ReadSeatsAsync(ResourceRef performance, CancellationToken cancellationToken) =>
        LoadingOnMissAsync(performance, () => seats.ReadAsync(performance.ResourceId), static state => state is null, cancellationToken);

    /// <summary>A slot's counters, after expiring holds whose time passed.</summary>
    public Task<CapacityCounters?> ReadCapacityAsync(ResourceRef slot, CancellationToken cancellationToken) =>
        LoadingOnMissAsync(slot, () => capacity.ReadAsync(slot), static counters => counters is null, cancellationToken);

    /// <summary>Loads the resource's state if Redis does not have it; false when the resource does not exist.</summary>
    private Task<bool> LoadAsync(ResourceRef resource, CancellationToken cancellationToken) =>
        (resource.IsSeated
            ? scope.GetRequiredService<SeatStateLoader>()
            : (IResourceStateLoader)scope.GetRequiredService<CapacityStateLoader>()).LoadAsync(resource, cancellationToken);

    private static bool NotLoaded(HoldAttempt? attempt) => attempt!.Status == HoldAttemptStatus.NotLoaded;

    /// <summary>
    /// A hold whose answer Redis did not give (a timeout, a dropped connection) may still have been taken, under an id
    /// nobody was told: the caller gets a 503 and tries again under a new id, and would find its own units taken for
    /// the hold's whole lifetime. So the hold is given back, in the background (the 503 does not wait for it; if Redis
    /// does not answer that either, the hold expires by itself). The release is sent after the hold on the same
    /// connection, so Redis runs it after the hold if it runs the hold at all; a hold never taken is not found.
    /// </summary>
    private async Task<HoldAttempt?> GivingBackOnFailureAsync(ResourceRef resource, Guid holdId, string userId, Func<Task<HoldAttempt?>> hold)
    {
        try
        {
            return await hold().ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            _ = GiveBackAsync(resource, holdId, userId);
            throw;
        }
    }

    private async Task GiveBackAsync(ResourceRef resource, Guid holdId, string userId)
    {
        try
        {
            await holds.ReleaseAsync(resource, holdId, userId).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            // Redis is still away (or the service stopping): the hold, if it was taken, runs out its TTL.
            LogGiveBackFailed(exception, holdId);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Hold {HoldId}, whose answer Redis did not give, could not be given back; if Redis took it, it runs out its time")]
    private partial void LogGiveBackFailed(Exception exception, Guid holdId);

    private async Task<T?> LoadingOnMissAsync<T>(ResourceRef resource, Func<Task<T?>> run, Func<T?, bool> missing, CancellationToken cancellationToken)
        where T : class
    {
        var result = await run().ConfigureAwait(false);
        if (!missing(result))
        {
            return result;
        }

        if (!await LoadAsync(resource, cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        result = await run().ConfigureAwait(false);
        // Redis lost the state it was just given (flushed, restarted, evicted): a 503, as Redis being away is.
        return missing(result) ? throw new RedisException($"The state of {resource} left Redis right after it was loaded.") : result;
    }
}
