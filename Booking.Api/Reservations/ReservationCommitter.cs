using System.Data.Common;
using System.Diagnostics;
using System.Threading.Channels;
using Booking.Core;
using Booking.Core.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Booking.Api.Reservations;

/// <summary>
/// Group commit of new reservations: the reservations requested while a commit runs are written together by the
/// next one, each with its saga and requested event, in set-based statements (<see cref="ReservationInsert"/>), so
/// many concurrent requests cost one round trip and one transaction. Each request still gets its own answer: when a
/// batch fails (one hold's unique violation, say), its reservations are written again one at a time through change
/// tracking, so only the offender is refused, with EF's exception as every caller expects it (unless PostgreSQL does not
/// answer one of them either: then the rest get that failure at once rather than each waiting out the stall). A request's
/// reservation is committed or refused even if its caller went away meanwhile, and the queue is drained before the
/// service stops. At most <see cref="BookingOptions.MaxPendingReservations"/> wait: past that (PostgreSQL stalled or
/// slower than the requests come) a request is refused at once, a 503, rather than held in memory without bound.
/// </summary>
public sealed partial class ReservationCommitter(IServiceScopeFactory scopes, IOptions<BookingOptions> options, ILogger<ReservationCommitter> logger) : IHostedService
{
    /// <summary>At most this many reservations share one transaction.</summary>
    public const int MaxBatch = 100;

    /// <summary>Transactions in flight at once: while one commits (mostly waiting on the WAL flush), the next fills.</summary>
    private const int Writers = 2;

    private static readonly ActivitySource Source = new(typeof(ReservationCommitter).Assembly.GetName().Name!);

    private readonly Channel<Pending> _queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(options.Value.MaxPendingReservations) { FullMode = BoundedChannelFullMode.Wait });

    private volatile bool _stopping;

    private Task _writers = Task.CompletedTask;

    private sealed record Pending(Reservation Reservation, OutboxMessage Requested, ActivityContext Caller, TaskCompletionSource Committed);

    /// <summary>Completes once the reservation and its requested event are committed; throws what the commit threw.</summary>
    public Task CommitAsync(Reservation reservation, OutboxMessage requested)
    {
        var pending = new Pending(reservation, requested, Activity.Current?.Context ?? default, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        return _queue.Writer.TryWrite(pending)
            ? pending.Committed.Task
            : Task.FromException(new CommitRefusedException(_stopping
                ? "The service is stopping."
                : $"{options.Value.MaxPendingReservations} reservations wait for PostgreSQL already."));
    }

    /// <summary>
    /// Starts the writers, with no token to stop them: they end when the queue is complete and drained, so no request
    /// is left unanswered, even one queued between the start and a stop that comes at once.
    /// </summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _writers = Task.WhenAll(Enumerable.Range(0, Writers).Select(_ => Task.Run(() => _queue.Reader.ForEachBatchAsync(MaxBatch, CommitBatchAsync), CancellationToken.None)));
        return Task.CompletedTask;
    }

    /// <summary>Takes no more reservations and waits (as long as the host lets it) for those queued to be committed or refused.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        _queue.Writer.TryComplete();
        await _writers.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task CommitBatchAsync(List<Pending> batch)
    {
        // One span for the transaction, in the trace of its first request and linked to the others.
        using (var activity = Source.StartActivity("commit_reservations", ActivityKind.Internal, batch[0].Caller,
            links: batch.Skip(1).Where(p => p.Caller != default).Select(p => new ActivityLink(p.Caller))))
        {
            activity?.SetTag("booking.batch.size", batch.Count);
            try
            {
                await InsertAsync(batch).ConfigureAwait(false);
                batch.ForEach(p => p.Committed.TrySetResult());
                return;
            }
            catch (Exception exception)
            {
                activity?.SetTag("booking.batch.outcome", "ONE_BY_ONE");
                LogBatchFailed(exception, batch.Count);
            }
        }

        Exception? outage = null;
        foreach (var pending in batch)
        {
            if (outage is not null)
            {
                // PostgreSQL did not answer one of them either: the rest would each wait out the same stall in turn.
                pending.Committed.TrySetException(outage);
                continue;
            }

            try
            {
                await SaveAsync(pending).ConfigureAwait(false);
                pending.Committed.TrySetResult();
            }
            catch (Exception exception)
            {
                if (ProblemExceptionHandler.IsPostgresAway(exception))
                {
                    outage = exception;
                }

                // The batch may have committed though its answer was lost (the connection cut during COMMIT): a
                // reservation stored under this request's own new id is this request's.
                if (exception is DbUpdateException { InnerException: PostgresException { SqlState: PostgresErrorCodes.UniqueViolation } }
                    && await IsStoredAsync(pending.Reservation.Id).ConfigureAwait(false))
                {
                    pending.Committed.TrySetResult();
                }
                else
                {
                    pending.Committed.TrySetException(exception);
                }
            }
        }
    }

    private async Task<bool> IsStoredAsync(Guid reservationId)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            return await scope.ServiceProvider.GetRequiredService<BookingDbContext>().Reservations.AnyAsync(r => r.Id == reservationId).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is DbException or InvalidOperationException or TimeoutException)
        {
            return false;
        }
    }

    private async Task InsertAsync(List<Pending> batch)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BookingDbContext>();
        await db.Database.OpenConnectionAsync().ConfigureAwait(false);
        await ReservationInsert.InsertAsync((NpgsqlConnection)db.Database.GetDbConnection(),
            [.. batch.Select(p => p.Reservation)], [.. batch.Select(p => p.Requested)], CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>One reservation through change tracking, so a refusal arrives as EF's <see cref="DbUpdateException"/> for the caller to answer.</summary>
    private async Task SaveAsync(Pending pending)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BookingDbContext>();
        db.Reservations.Add(pending.Reservation);
        db.OutboxMessages.Add(pending.Requested);
        await db.SaveChangesAsync().ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "A group commit of {Count} reservations failed; writing them one at a time")]
    private partial void LogBatchFailed(Exception exception, int count);
}

/// <summary>A reservation the group commit did not take (the service stopping, or too many waiting): a 503, as a timeout is.</summary>
public sealed class CommitRefusedException(string message) : TimeoutException(message);
