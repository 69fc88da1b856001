using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Booking.Core.Holds;

/// <summary>
/// Expires holds whose time has passed on every known resource. Expiry is already exact without it (every
/// script checks expiry itself); the sweep keeps Redis tidy and the counters fresh for idle resources. After
/// each sweep it counts the holds still live, for the <c>booking.holds.live</c> gauge, and drops the state of a
/// resource with none that went unused for <see cref="BookingOptions.IdleStateLifetime"/>, so Redis holds (and the
/// sweep walks) the performances and slots in use rather than every one ever loaded.
/// </summary>
public sealed partial class HoldSweeper(
    ResourceRegistry registry, HoldEngine holds, IConnectionMultiplexer redis, IOptions<BookingOptions> options, TimeProvider time, IMeterFactory meters,
    ILogger<HoldSweeper> logger)
    : BackgroundService
{
    /// <summary>Expired seat holds one sweep gives back per performance at most, so no script call runs long.</summary>
    private const int SeatHoldsPerResourcePerSweep = 1000;

    /// <summary>Holds live as of the last sweep, which the <c>booking.holds.live</c> gauge reports.</summary>
    private readonly StrongBox<long> _liveHolds = ObservedLiveHolds(meters);

    private static StrongBox<long> ObservedLiveHolds(IMeterFactory meters)
    {
        var live = new StrongBox<long>();
        meters.Create(BookingTelemetry.MeterName).CreateObservableGauge("booking.holds.live", () => Interlocked.Read(ref live.Value),
            description: "Holds not yet expired, released or confirmed, as of the last sweep.");
        return live;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.SweepInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                var expired = 0;
                var evicted = 0;
                var live = 0L;
                var idle = options.Value.IdleStateLifetime;
                var database = redis.GetDatabase();
                await foreach (var resource in registry.ListAsync().WithCancellation(stoppingToken).ConfigureAwait(false))
                {
                    if (!await database.KeyExistsAsync(resource.StateKey).ConfigureAwait(false))
                    {
                        // Its state is gone (flushed, removed): the registry keeps only resources Redis holds. A load
                        // may have made the state again and joined the registry between the two calls: then it stays.
                        await registry.RemoveAsync(resource).ConfigureAwait(false);
                        if (await database.KeyExistsAsync(resource.StateKey).ConfigureAwait(false))
                        {
                            await registry.AddAsync(resource).ConfigureAwait(false);
                        }

                        continue;
                    }

                    expired += await holds.SweepAsync(resource, SeatHoldsPerResourcePerSweep).ConfigureAwait(false);
                    var liveHere = await database.SortedSetLengthAsync(resource.ExpiryKey).ConfigureAwait(false);
                    live += liveHere;
                    if (liveHere == 0 && idle > TimeSpan.Zero && await holds.EvictIdleAsync(resource, idle).ConfigureAwait(false))
                    {
                        // The next sweep finds its state gone and takes it off the registry, as any other.
                        evicted++;
                    }
                }

                Interlocked.Exchange(ref _liveHolds.Value, live);

                if (expired > 0)
                {
                    LogSwept(expired);
                }

                if (evicted > 0)
                {
                    LogEvicted(evicted, idle.TotalHours);
                }
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                // A Redis stall (RedisTimeoutException is no RedisException) or outage must not end the host.
                LogSweepFailed(exception);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Expired {HoldCount} holds")]
    private partial void LogSwept(int holdCount);

    [LoggerMessage(Level = LogLevel.Information, Message = "Dropped the state of {ResourceCount} performances and slots unused for {Hours} h; each is loaded again when next asked for")]
    private partial void LogEvicted(int resourceCount, double hours);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Hold sweep failed; it runs again at the next tick")]
    private partial void LogSweepFailed(Exception exception);
}
