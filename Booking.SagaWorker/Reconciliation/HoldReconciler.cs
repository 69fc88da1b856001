using System.Diagnostics.Metrics;
using Booking.Core;
using Booking.Core.Data;
using Booking.Core.Holds;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Booking.SagaWorker.Reconciliation;

/// <summary>The <c>Reconciler</c> section.</summary>
public sealed class ReconcilerOptions
{
    public const string SectionName = "Reconciler";

    /// <summary>How often reservations that reached CONFIRMED, FAILED or CANCELLED are compared with Redis.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How far back every finished reservation is checked again at start-up and whenever Redis lost data (it
    /// restarted: AOF <c>everysec</c> may lose its last second; it was flushed or replaced).
    /// </summary>
    public TimeSpan LookBack { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Each run reads again this much before where the last one stopped, for transactions that committed late.</summary>
    public TimeSpan Overlap { get; set; } = TimeSpan.FromSeconds(5);

    public int BatchSize { get; set; } = 1000;
}

/// <summary>
/// Repairs Redis from PostgreSQL, the record of truth, after Redis lost writes: a CONFIRMED reservation whose hold is
/// not BOOKED lost its confirm (its seats could be sold again), a FAILED or CANCELLED one whose hold still holds units
/// lost its release (or a rebuild read it while it was live). Each run compares the reservations that finished since
/// the last run, hold by hold (one pipelined read), and repairs only what differs; after Redis lost data it looks back
/// <see cref="ReconcilerOptions.LookBack"/>. PostgreSQL's seat guard already keeps a named seat from being sold twice;
/// this puts the seats back to what users can see and take.
/// </summary>
public sealed partial class HoldReconciler(
    IServiceScopeFactory scopes,
    HoldEngine holds,
    IConnectionMultiplexer redis,
    TimeProvider time,
    IOptions<ReconcilerOptions> options,
    IMeterFactory meters,
    ILogger<HoldReconciler> logger) : BackgroundService
{
    /// <summary>Written by the reconciler, never expiring: a Redis without it lost its data since the last run.</summary>
    private static readonly RedisKey Marker = "booking:reconciler:marker";

    private static readonly ReservationStatus[] Finished = [ReservationStatus.Confirmed, ReservationStatus.Failed, ReservationStatus.Cancelled];

    private readonly Counter<long> _repairs = meters.Create(BookingTelemetry.MeterName)
        .CreateCounter<long>("booking.reconciler.repairs", description: "Holds the reconciler repaired in Redis to match PostgreSQL.");

    private DateTimeOffset? _checkedUpTo;
    private string? _redisRunId;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.Interval, time);
        do
        {
            try
            {
                await RunOnceAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                LogRunFailed(exception);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    /// <summary>One comparison; returns how many holds it repaired.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        var started = time.GetUtcNow();
        var (lostData, runId) = await RedisLostDataAsync().ConfigureAwait(false);
        // After Redis lost data: the look-back, or further back where the last run that completed was longer ago.
        var since = _checkedUpTo is not { } checkedUpTo ? started - options.Value.LookBack
            : lostData ? Min(started - options.Value.LookBack, checkedUpTo - options.Value.Overlap)
            : checkedUpTo - options.Value.Overlap;
        if (lostData && _checkedUpTo is not null)
        {
            LogLookingBack(options.Value.LookBack.TotalMinutes);
        }

        var repaired = 0;
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BookingDbContext>();
        (DateTimeOffset UpdatedAt, Guid Id)? after = null;
        while (true)
        {
            var batch = await NextBatchAsync(db, since, after, cancellationToken).ConfigureAwait(false);
            if (batch.Count == 0)
            {
                break;
            }

            repaired += await ReconcileAsync(batch, since).ConfigureAwait(false);
            after = (batch[^1].UpdatedAt, batch[^1].Id);
        }

        await redis.GetDatabase().StringSetAsync(Marker, started.ToUnixTimeMilliseconds()).ConfigureAwait(false);
        // Only a run that got here has looked back over what Redis lost: one that failed leaves the next to do it.
        _checkedUpTo = started;
        _redisRunId = runId;
        return repaired;
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private async Task<List<Reservation>> NextBatchAsync(BookingDbContext db, DateTimeOffset since, (DateTimeOffset UpdatedAt, Guid Id)? after, CancellationToken cancellationToken)
    {
        var query = db.Reservations.AsNoTracking().Where(r => r.UpdatedAt >= since && Finished.Contains(r.Status));
        if (after is { } last)
        {
            query = query.Where(r => EF.Functions.GreaterThan(ValueTuple.Create(r.UpdatedAt, r.Id), ValueTuple.Create(last.UpdatedAt, last.Id)));
        }

        return await query.OrderBy(r => r.UpdatedAt).ThenBy(r => r.Id).Take(options.Value.BatchSize).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<int> ReconcileAsync(List<Reservation> batch, DateTimeOffset since)
    {
        var states = await holds.ReadStatesAsync(batch.Select(r => (r.Resource, r.HoldId)).ToList()).ConfigureAwait(false);
        var repaired = 0;
        for (var i = 0; i < batch.Count; i++)
        {
            var reservation = batch[i];
            var state = states[i];
            if (reservation.Status == ReservationStatus.Confirmed && state != HoldState.Booked)
            {
                repaired += await RepairLostConfirmAsync(reservation, state, since).ConfigureAwait(false);
            }
            else if (reservation.Status != ReservationStatus.Confirmed && state is HoldState.Booked or HoldState.Held)
            {
                repaired += await RepairLostReleaseAsync(reservation).ConfigureAwait(false);
            }
        }

        return repaired;
    }

    private async Task<int> RepairLostConfirmAsync(Reservation reservation, HoldState? state, DateTimeOffset since)
    {
        var resource = reservation.Resource;
        if (resource.IsSeated)
        {
            var (changed, conflicts) = await holds.RepairSeatsAsync(resource, reservation.HoldId, reservation.Id, reservation.UserId, reservation.SeatIds, booked: true).ConfigureAwait(false);
            if (conflicts > 0)
            {
                LogConflict(reservation.Id, conflicts);
            }

            return Counted(reservation, "lost_confirm", changed > 0);
        }

        // A counted hold keeps its quantity in its record: a HELD one is confirmed again.
        if (state == HoldState.Held)
        {
            return Counted(reservation, "lost_confirm", await holds.ConfirmAsync(resource, reservation.HoldId, reservation.Id).ConfigureAwait(false) == ConfirmOutcome.Confirmed);
        }

        // A record gone (the hold was lost with the confirm) or EXPIRED (the confirm alone was lost, and the sweeper gave
        // the units back) is booked again, if the confirm is recent enough for Redis to have lost it: the record of an
        // older one ran out its retention, and the counters still count it.
        if (state is null or HoldState.Expired && reservation.ConfirmedAt >= since)
        {
            var over = await holds.RepairCapacityAsync(resource, reservation.HoldId, reservation.Id, reservation.UserId, reservation.Quantity).ConfigureAwait(false);
            if (over > 0)
            {
                LogOverCapacity(reservation.Id, over.Value);
            }

            return Counted(reservation, "lost_confirm", over is not null);
        }

        LogCannotRepair(reservation.Id, state?.ToString() ?? "missing");
        return 0;
    }

    private async Task<int> RepairLostReleaseAsync(Reservation reservation)
    {
        var resource = reservation.Resource;
        if (resource.IsSeated)
        {
            var (changed, _) = await holds.RepairSeatsAsync(resource, reservation.HoldId, reservation.Id, reservation.UserId, reservation.SeatIds, booked: false).ConfigureAwait(false);
            return Counted(reservation, "lost_release", changed > 0);
        }

        return Counted(reservation, "lost_release", await holds.UnbookAsync(resource, reservation.HoldId).ConfigureAwait(false));
    }

    private int Counted(Reservation reservation, string kind, bool repaired)
    {
        if (!repaired)
        {
            return 0;
        }

        _repairs.Add(1, new KeyValuePair<string, object?>("kind", kind), new KeyValuePair<string, object?>("domain", reservation.Domain.ToString().ToUpperInvariant()));
        LogRepaired(kind, reservation.Id, reservation.Status.ToString().ToUpperInvariant());
        return 1;
    }

    /// <summary>
    /// Whether Redis restarted (a new run id) or was emptied (the marker is gone) since the last run that completed,
    /// and Redis's run id now.
    /// </summary>
    private async Task<(bool LostData, string? RunId)> RedisLostDataAsync()
    {
        var database = redis.GetDatabase();
        var markerGone = !await database.KeyExistsAsync(Marker).ConfigureAwait(false);
        // INFO through a script: the client library keeps INFO for admin connections, which this one is not.
        var info = (string?)await database.ScriptEvaluateAsync("return redis.call('INFO', 'server')").ConfigureAwait(false) ?? string.Empty;
        var runId = info.Split('\n').Select(line => line.Trim()).FirstOrDefault(line => line.StartsWith("run_id:", StringComparison.Ordinal));
        var restarted = _redisRunId is not null && runId != _redisRunId;
        return (markerGone || restarted, runId);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reconciler: repaired a {Kind} in Redis for reservation {ReservationId} ({Status} in PostgreSQL)")]
    private partial void LogRepaired(string kind, Guid reservationId, string status);

    [LoggerMessage(Level = LogLevel.Error, Message = "Reconciler: {Conflicts} seats of confirmed reservation {ReservationId} are booked by another hold in Redis")]
    private partial void LogConflict(Guid reservationId, int conflicts);

    [LoggerMessage(Level = LogLevel.Error, Message = "Reconciler: booking confirmed reservation {ReservationId} again puts its slot {Units} units past its capacity in Redis (sold while Redis did not know)")]
    private partial void LogOverCapacity(Guid reservationId, int units);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reconciler: confirmed reservation {ReservationId} has a capacity hold in state {State}, left as it is (a saga gave it back after PostgreSQL was read, or its record ran out its retention)")]
    private partial void LogCannotRepair(Guid reservationId, string state);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reconciler: Redis lost data since the last run; checking the last {Minutes} minutes of finished reservations")]
    private partial void LogLookingBack(double minutes);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reconciler run failed; it runs again at the next tick")]
    private partial void LogRunFailed(Exception exception);
}
