using System.Diagnostics;
using Microsoft.EntityFrameworkCore;

namespace Booking.Core.Data;

/// <summary>
/// PostgreSQL's clock as this process sees it: the local clock plus the offset last measured against the database.
/// Every time the API and the saga worker write to the booking database (a saga's deadline, its next attempt, a
/// reservation's timestamps) and every time they compare against one is on this clock, so a process whose own clock
/// is off by minutes neither fails sagas early nor leaves them waiting. Timers and elapsed time stay local.
/// </summary>
public sealed class DatabaseClock(TimeProvider local) : TimeProvider
{
    /// <summary>The key under which the local clock is registered; tests put a skewed one there.</summary>
    public const string LocalClockKey = "local";

    private long _offsetTicks;

    /// <summary>PostgreSQL's time minus the local clock's, as last measured.</summary>
    public TimeSpan Offset => TimeSpan.FromTicks(Interlocked.Read(ref _offsetTicks));

    public override DateTimeOffset GetUtcNow() => local.GetUtcNow() + Offset;

    public override long GetTimestamp() => local.GetTimestamp();

    public override long TimestampFrequency => local.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => local.LocalTimeZone;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        local.CreateTimer(callback, state, dueTime, period);

    /// <summary>
    /// Reads PostgreSQL's <c>clock_timestamp()</c> a few times and keeps the offset of the quickest round trip,
    /// taking the database's reading to be from the middle of it.
    /// </summary>
    public async Task<TimeSpan> SynchroniseAsync(BookingDbContext db, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        const int Samples = 3;
        var best = (RoundTrip: TimeSpan.MaxValue, Offset: TimeSpan.Zero);
        for (var i = 0; i < Samples; i++)
        {
            var before = local.GetUtcNow();
            var started = Stopwatch.GetTimestamp();
            var database = await db.Database.SqlQueryRaw<DateTimeOffset>("SELECT clock_timestamp() AS \"Value\"")
                .SingleAsync(cancellationToken).ConfigureAwait(false);
            var roundTrip = Stopwatch.GetElapsedTime(started);
            if (roundTrip < best.RoundTrip)
            {
                best = (roundTrip, database - (before + (roundTrip / 2)));
            }
        }

        Interlocked.Exchange(ref _offsetTicks, best.Offset.Ticks);
        return best.Offset;
    }
}

/// <summary>
/// Measures <see cref="DatabaseClock"/>'s offset before the process serves anything and again every minute, warning
/// when the local clock is more than a second off. A database that is down at start-up leaves the offset at zero,
/// logged, and the reading is tried again 5 s later, then at doubling intervals up to the minute, until one succeeds:
/// a process started before its database does not write on its own clock for a minute.
/// </summary>
public sealed partial class DatabaseClockSync(DatabaseClock clock, IServiceScopeFactory scopes, ILogger<DatabaseClockSync> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan NotableSkew = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan FirstReadLimit = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan FirstRetry = TimeSpan.FromSeconds(5);

    private bool _measured;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        // A database that is down must not hold the start-up for long (one stuck in its handshake, at most the connection's
        // Timeout): the reading is tried again in the background.
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(FirstReadLimit);
        await SynchroniseAsync(limit.Token, cancellationToken).ConfigureAwait(false);
        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Once measured, an offset stays good through a failed reading (it is kept), so only the first one is hurried.
        var wait = _measured ? Interval : FirstRetry;
        while (!stoppingToken.IsCancellationRequested)
        {
            await Task.Delay(wait, stoppingToken).ConfigureAwait(false);
            await SynchroniseAsync(stoppingToken, stoppingToken).ConfigureAwait(false);
            wait = _measured ? Interval : TimeSpan.FromTicks(Math.Min(wait.Ticks * 2, Interval.Ticks));
        }
    }

    /// <summary>One reading, given up when <paramref name="attempt"/> ends; any failure but the process stopping is logged.</summary>
    private async Task SynchroniseAsync(CancellationToken attempt, CancellationToken stopping)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var offset = await clock.SynchroniseAsync(scope.ServiceProvider.GetRequiredService<BookingDbContext>(), attempt).ConfigureAwait(false);
            _measured = true;
            if (offset.Duration() > NotableSkew)
            {
                LogSkew(offset.TotalMilliseconds);
            }
        }
        catch (Exception exception) when (!stopping.IsCancellationRequested)
        {
            LogSyncFailed(exception, clock.Offset.TotalMilliseconds, _measured ? "kept" : "still unmeasured");
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "PostgreSQL's clock is {OffsetMs} ms ahead of this machine's; booking times follow PostgreSQL's")]
    private partial void LogSkew(double offsetMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read PostgreSQL's clock; the offset of {OffsetMs} ms is {OffsetState}")]
    private partial void LogSyncFailed(Exception exception, double offsetMs, string offsetState);
}
