using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Booking.Core.Holds;

/// <summary>
/// Expires holds whose time has passed on every known resource. Expiry is already exact without it (every
/// script checks expiry itself); the sweep keeps Redis tidy and the counters fresh for idle resources. After
/// each sweep it counts the holds still live, for the <c>booking.holds.live</c> gauge.
/// </summary>
public sealed partial class HoldSweeper : BackgroundService
{
    /// <summary>Expired seat holds one sweep gives back per performance at most, so no script call runs long.</summary>
    private const int SeatHoldsPerResourcePerSweep = 1000;

    private readonly ResourceRegistry _registry;
    private readonly HoldEngine _holds;
    private readonly IConnectionMultiplexer _redis;
    private readonly IOptions<BookingOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger<HoldSweeper> _logger;
    private long _liveHolds;

    public HoldSweeper(ResourceRegistry registry, HoldEngine holds, IConnectionMultiplexer redis, IOptions<BookingOptions> options,
        TimeProvider time, IMeterFactory meters, ILogger<HoldSweeper> logger)
    {
        _registry = registry;
        _holds = holds;
        _redis = redis;
        _options = options;
        _time = time;
        _logger = logger;
        meters.Create(BookingTelemetry.MeterName).CreateObservableGauge("booking.holds.live", () => Interlocked.Read(ref _liveHolds),
            description: "Holds not yet expired, released or confirmed, as of the last sweep.");
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.Value.SweepInterval, _time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                var expired = 0;
                var live = 0L;
                var database = _redis.GetDatabase();
                await foreach (var resource in _registry.ListAsync().WithCancellation(stoppingToken).ConfigureAwait(false))
                {
                    if (!await database.KeyExistsAsync(resource.StateKey).ConfigureAwait(false))
                    {
                        // Its state is gone (flushed, removed): the registry keeps only resources Redis holds.
                        await _registry.RemoveAsync(resource).ConfigureAwait(false);
                        continue;
                    }

                    expired += await _holds.SweepAsync(resource, SeatHoldsPerResourcePerSweep).ConfigureAwait(false);
                    live += await database.SortedSetLengthAsync(resource.ExpiryKey).ConfigureAwait(false);
                }

                Interlocked.Exchange(ref _liveHolds, live);

                if (expired > 0)
                {
                    LogSwept(expired);
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Hold sweep failed; it runs again at the next tick")]
    private partial void LogSweepFailed(Exception exception);
}
