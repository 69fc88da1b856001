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
    private readonly ResourceRegistry registry;
    private readonly HoldEngine holds;
    private readonly IConnectionMultiplexer redis;
    private readonly IOptions<BookingOptions> options;
    private readonly TimeProvider time;
    private readonly ILogger<HoldSweeper> logger;
    private long _liveHolds;

    public HoldSweeper(ResourceRegistry registry, HoldEngine holds, IConnectionMultiplexer redis, IOptions<BookingOptions> options,
        TimeProvider time, IMeterFactory meters, ILogger<HoldSweeper> logger)
    {
        this.registry = registry;
        this.holds = holds;
        this.redis = redis;
        this.options = options;
        this.time = time;
        this.logger = logger;
        meters.Create(BookingTelemetry.MeterName).CreateObservableGauge("booking.holds.live", () => Interlocked.Read(ref _liveHolds),
            description: "Holds not yet expired, released or confirmed, as of the last sweep.");
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.SweepInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                var expired = 0;
                var live = 0L;
                await foreach (var resource in registry.ListAsync().WithCancellation(stoppingToken).ConfigureAwait(false))
                {
                    expired += await holds.SweepAsync(resource, limit: 1000).ConfigureAwait(false);
                    live += await redis.GetDatabase().SortedSetLengthAsync(resource.ExpiryKey).ConfigureAwait(false);
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
