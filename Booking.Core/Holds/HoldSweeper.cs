using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Booking.Core.Holds;

/// <summary>
/// Expires holds whose time has passed on every known resource. Expiry is already exact without it (every
/// script checks expiry itself); the sweep keeps Redis tidy and the counters fresh for idle resources.
/// </summary>
public sealed partial class HoldSweeper(
    ResourceRegistry registry,
    HoldEngine holds,
    IOptions<BookingOptions> options,
    TimeProvider time,
    ILogger<HoldSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.SweepInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                var expired = 0;
                await foreach (var resource in registry.ListAsync().WithCancellation(stoppingToken).ConfigureAwait(false))
                {
                    expired += await holds.SweepAsync(resource, limit: 1000).ConfigureAwait(false);
                }

                if (expired > 0)
                {
                    LogSwept(expired);
                }
            }
            catch (RedisException exception)
            {
                LogSweepFailed(exception);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Expired {HoldCount} holds")]
    private partial void LogSwept(int holdCount);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Hold sweep failed; it runs again at the next tick")]
    private partial void LogSweepFailed(Exception exception);
}
