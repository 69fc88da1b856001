using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using Booking.PerformanceStub.Data;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Booking.PerformanceStub.Allocations;

public enum AllocationStatus
{
    Allocated,
    Released,
    SoldOut,
    NotFound,
}

/// <summary>What an allocation request came to; <see cref="Remaining"/> is the section's remaining after it.</summary>
public sealed record AllocationResult(AllocationStatus Status, int Seats, int Remaining);

/// <summary>
/// Group commit of allocations per section: requests for one section queue here, and one loop per section takes
/// everything waiting, acquires the section lock once, decides each request in arrival order against the
/// section's remaining, and commits them all in one transaction, still guarded by the database check
/// <c>remaining &gt;= seats</c>. One lock acquisition and one commit then serve many reservations instead of one.
/// Each batch is an <c>allocate_batch</c> span in the trace of its first request, linked to the traces of the
/// others. A section's loop ends after <c>Allocations:IdleTimeout</c> (30 s) without requests, so memory holds
/// only the sections in use, whatever section codes callers send.
/// </summary>
public sealed partial class SectionAllocator(IServiceScopeFactory scopes, SectionLock sectionLock, TimeProvider time, IConfiguration configuration, ILogger<SectionAllocator> logger)
{
    private const int MaxBatch = 256;
    private static readonly ActivitySource Source = new(typeof(SectionAllocator).Assembly.GetName().Name!);
    private readonly ConcurrentDictionary<(Guid, string), Channel<Pending>> _queues = new();
    private readonly TimeSpan _idleTimeout = configuration.GetValue("Allocations:IdleTimeout", TimeSpan.FromSeconds(30));

    /// <summary>Sections with a running allocation loop.</summary>
    public int ActiveSections => _queues.Count;

    public Task<AllocationResult> AllocateAsync(Guid performanceId, string section, Guid reservationId, int seats) =>
        AllocateAsync(performanceId, section, reservationId, seats, Activity.Current?.Context ?? default);

    /// <param name="caller">The trace the allocation serves: its batch's span joins it (or links to it).</param>
    public Task<AllocationResult> AllocateAsync(Guid performanceId, string section, Guid reservationId, int seats, ActivityContext caller)
    {
        var pending = new Pending(reservationId, seats, caller, new TaskCompletionSource<AllocationResult>(TaskCreationOptions.RunContinuationsAsynchronously));
        // A queue whose loop just retired refuses the write: the next GetOrAdd starts a new one.
        while (!Queue(performanceId, section).Writer.TryWrite(pending))
        {
        }

        return pending.Completion.Task;
    }

    private Channel<Pending> Queue(Guid performanceId, string section) => _queues.GetOrAdd((performanceId, section), key =>
    {
        var channel = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
        // The loop outlives the request that happens to start it: it must not carry that request's trace.
        using (ExecutionContext.SuppressFlow())
        {
            _ = Task.Run(() => RunAsync(key, channel));
        }

        return channel;
    });

    private async Task RunAsync((Guid PerformanceId, string Section) key, Channel<Pending> channel)
    {
        var (performanceId, section) = key;
        var reader = channel.Reader;
        var batch = new List<Pending>(MaxBatch);
        while (await WaitOrRetireAsync(key, channel).ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < MaxBatch && reader.TryRead(out var pending))
            {
                batch.Add(pending);
            }

            var activity = StartBatchActivity(section, batch);
            List<AllocationResult> results;
            try
            {
                results = await AllocateUnderLockAsync(performanceId, section, batch).ConfigureAwait(false);
            }
            catch (Exception exception)
            {
                // Nothing of the batch was committed; each caller gets the failure and the saga retries it.
                activity?.SetStatus(ActivityStatusCode.Error, exception.Message);
                activity?.Dispose();
                LogBatchFailed(exception, performanceId, section, batch.Count);
                batch.ForEach(p => p.Completion.TrySetException(exception));
                continue;
            }

            // The batch's span ends before any caller hears back, so a booking's trace holds it once the booking
            // has its answer; the section's lock is already released.
            activity?.Dispose();
            for (var i = 0; i < batch.Count; i++)
            {
                batch[i].Completion.TrySetResult(results[i]);
            }
        }
    }

    private async Task<List<AllocationResult>> AllocateUnderLockAsync(Guid performanceId, string section, List<Pending> batch)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<PerformanceDbContext>();
        await using var held = await sectionLock.AcquireAsync(performanceId, section, CancellationToken.None).ConfigureAwait(false);
        return await ApplyAsync(db, performanceId, section, batch).ConfigureAwait(false);
    }

    /// <summary>
    /// Waits for requests; after the idle timeout the queue leaves the map and is completed, and the loop goes on
    /// only for what was written before that (it ends once those are served).
    /// </summary>
    private async Task<bool> WaitOrRetireAsync((Guid, string) key, Channel<Pending> channel)
    {
        using var idle = new CancellationTokenSource(_idleTimeout, time);
        try
        {
            return await channel.Reader.WaitToReadAsync(idle.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (idle.IsCancellationRequested)
        {
            _queues.TryRemove(new KeyValuePair<(Guid, string), Channel<Pending>>(key, channel));
            channel.Writer.TryComplete();
            return await channel.Reader.WaitToReadAsync().ConfigureAwait(false);
        }
    }

    private static Activity? StartBatchActivity(string section, List<Pending> batch)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var links = batch.Skip(1).Where(p => p.Caller != default).Select(p => new ActivityLink(p.Caller)).ToList();
        var activity = Source.StartActivity("allocate_batch", ActivityKind.Internal, batch[0].Caller, links: links);
        activity?.SetTag("performance.section", section);
        activity?.SetTag("allocation.batch_size", batch.Count);
        return activity;
    }

    /// <summary>
    /// A batch of new reservations that all fit (nearly every batch) is one statement: the section gives up their
    /// seats and their allocations are inserted, or neither. A batch that does not fit, names a missing section,
    /// or repeats a reservation the section already knows (a retry, a released tombstone) changes nothing there and
    /// is decided request by request against what the database holds. One commit per batch either way.
    /// </summary>
    private async Task<List<AllocationResult>> ApplyAsync(PerformanceDbContext db, Guid performanceId, string section, List<Pending> batch)
    {
        var now = time.GetUtcNow();
        // As if every request fit: the allocations to add, a repeated reservation id answered by its first request.
        var (_, added) = Decide(performanceId, section, batch, new(), int.MaxValue, now);
        if (await TryTakeAllAsync(db, performanceId, section, added).ConfigureAwait(false) is { } remaining)
        {
            Activity.Current?.SetTag("allocation.checked", false);
            return Decide(performanceId, section, batch, new(), remaining + added.Sum(a => a.Seats), now).Results;
        }

        Activity.Current?.SetTag("allocation.checked", true);
        return await CheckedApplyAsync(db, performanceId, section, batch, now).ConfigureAwait(false);
    }

    /// <summary>
    /// The one statement, or null when it took nothing because the section already has one of these reservations
    /// (the insert failed on the key, and the update with it).
    /// </summary>
    private static async Task<int?> TryTakeAllAsync(PerformanceDbContext db, Guid performanceId, string section, List<Allocation> added)
    {
        try
        {
            return await TakeAllAsync(db, performanceId, section, added).ConfigureAwait(false);
        }
        catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            return null;
        }
    }

    /// <summary>
    /// Takes <paramref name="added"/>'s seats from the section and inserts them, in the caller's transaction if there
    /// is one: the section's remaining after, or null when nothing was taken.
    /// </summary>
    private static async Task<int?> TakeAllAsync(PerformanceDbContext db, Guid performanceId, string section, List<Allocation> added)
    {
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        await db.Database.OpenConnectionAsync().ConfigureAwait(false);
        try
        {
            await using var command = new NpgsqlCommand(TakeAllSql, connection);
            command.Parameters.Add(new NpgsqlParameter { Value = added.Sum(a => a.Seats) });
            command.Parameters.Add(new NpgsqlParameter { Value = performanceId });
            command.Parameters.Add(new NpgsqlParameter { Value = section });
            command.Parameters.Add(new NpgsqlParameter { Value = added.Select(a => a.ReservationId).ToArray() });
            command.Parameters.Add(new NpgsqlParameter { Value = added.Select(a => a.Seats).ToArray() });
            command.Parameters.Add(new NpgsqlParameter { Value = PerformanceDbContext.Stored(AllocationState.Allocated) });
            command.Parameters.Add(new NpgsqlParameter { Value = added[0].CreatedAt });
            return await command.ExecuteScalarAsync().ConfigureAwait(false) as int?;
        }
        finally
        {
            await db.Database.CloseConnectionAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Fixed text, so Npgsql prepares it once per connection. Takes nothing (null) when the section is missing or
    /// short of seats; a reservation the section already has fails the insert, and with it the update. The
    /// allocations take their keys from the updated section row, never straight from the parameters: a section code
    /// longer than the column would fail the statement even when no row is inserted.
    /// </summary>
    private const string TakeAllSql = """
        WITH taken AS (
            UPDATE sections SET remaining = remaining - $1
            WHERE performance_id = $2 AND code = $3 AND remaining >= $1
            RETURNING performance_id, code, remaining),
        inserted AS (
            INSERT INTO allocations (performance_id, section_code, reservation_id, seats, state, created_at, updated_at)
            SELECT t.performance_id, t.code, v.reservation_id, v.seats, $6, $7, $7
            FROM taken AS t, unnest($4::uuid[], $5::integer[]) AS v(reservation_id, seats))
        SELECT remaining FROM taken
        """;

    /// <summary>
    /// The batch decided against the database, in one transaction (its reads included): the section's remaining
    /// and the allocations it already has for these reservations, then the same one statement for the new ones.
    /// </summary>
    private static async Task<List<AllocationResult>> CheckedApplyAsync(PerformanceDbContext db, Guid performanceId, string section, List<Pending> batch, DateTimeOffset now)
    {
        await using var transaction = await db.Database.BeginTransactionAsync().ConfigureAwait(false);
        var row = await db.Sections.AsNoTracking().SingleOrDefaultAsync(s => s.PerformanceId == performanceId && s.Code == section).ConfigureAwait(false);
        if (row is null)
        {
            return batch.Select(_ => new AllocationResult(AllocationStatus.NotFound, 0, 0)).ToList();
        }

        var ids = batch.Select(p => p.ReservationId).Distinct().ToList();
        var known = await db.Allocations.AsNoTracking()
            .Where(a => a.PerformanceId == performanceId && a.SectionCode == section && ids.Contains(a.ReservationId))
            .ToDictionaryAsync(a => a.ReservationId)
            .ConfigureAwait(false);

        var (results, added) = Decide(performanceId, section, batch, known, row.Remaining, now);
        // Either refusal means another holder changed the section meanwhile (a lock lost to a Redis restart): it took
        // the seats, or allocated one of these reservations itself. A 503, to try again.
        if (added.Count > 0 && await TryTakeAllAsync(db, performanceId, section, added).ConfigureAwait(false) is null)
        {
            throw new SectionLockLostException($"Section {section} of {performanceId} had fewer than {added.Sum(a => a.Seats)} seats left, or one of its new reservations allocated, under its lock.");
        }

        await transaction.CommitAsync().ConfigureAwait(false);
        return results;
    }

    /// <summary>
    /// Each request in arrival order against the section's remaining seats: an existing allocation answers again
    /// (idempotent by reservation id; a released one stays released), a new one is taken while seats remain.
    /// </summary>
    private static (List<AllocationResult> Results, List<Allocation> Added) Decide(
        Guid performanceId, string section, List<Pending> batch, Dictionary<Guid, Allocation> known, int remaining, DateTimeOffset now)
    {
        var added = new List<Allocation>();
        var results = new List<AllocationResult>(batch.Count);
        foreach (var pending in batch)
        {
            if (known.TryGetValue(pending.ReservationId, out var existing))
            {
                // Idempotent by reservation id; a released one stays released (tombstone).
                results.Add(existing.State == AllocationState.Allocated
                    ? new AllocationResult(AllocationStatus.Allocated, existing.Seats, remaining)
                    : new AllocationResult(AllocationStatus.Released, 0, remaining));
            }
            else if (remaining >= pending.Seats)
            {
                remaining -= pending.Seats;
                var allocation = new Allocation
                {
                    PerformanceId = performanceId,
                    SectionCode = section,
                    ReservationId = pending.ReservationId,
                    Seats = pending.Seats,
                    State = AllocationState.Allocated,
                    CreatedAt = now,
                    UpdatedAt = now,
                };
                added.Add(allocation);
                known[pending.ReservationId] = allocation;
                results.Add(new AllocationResult(AllocationStatus.Allocated, pending.Seats, remaining));
            }
            else
            {
                results.Add(new AllocationResult(AllocationStatus.SoldOut, 0, remaining));
            }
        }

        return (results, added);
    }

    private sealed record Pending(Guid ReservationId, int Seats, ActivityContext Caller, TaskCompletionSource<AllocationResult> Completion);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Allocation batch of {Count} for section {Section} of {PerformanceId} failed")]
    private partial void LogBatchFailed(Exception exception, Guid performanceId, string section, int count);
}
