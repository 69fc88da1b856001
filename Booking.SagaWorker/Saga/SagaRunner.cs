using Booking.Core;
using Booking.Core.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Booking.SagaWorker.Saga;

/// <summary>
/// Runs sagas, each at most once at a time in this process: the consumer and the sweep may both ask for the same
/// one, and the second asker simply leaves it to the first. Sagas come in batches (one read and one commit for the
/// lot); those a batch hands back run on their own, each in its own scope, and so does every saga of a batch that
/// failed: the batch shares one commit, so a saga that can never be written would otherwise hold back all the others
/// it is batched with, the sweep's batches included, for ever.
/// </summary>
public sealed partial class SagaRunner(
    IServiceScopeFactory scopes, SagaDeferrals deferrals, TimeProvider time, IOptions<SagaOptions> options, ILogger<SagaRunner> logger)
{
    private readonly SagaClaims _claims = new();

    public async Task RunBatchAsync(IReadOnlyCollection<Guid> reservationIds, CancellationToken cancellationToken)
    {
        using var lease = _claims.Claim(reservationIds);
        var mine = lease.Ids;
        if (mine.Count == 0)
        {
            return;
        }

        IReadOnlyList<Guid> alone;
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            alone = await scope.ServiceProvider.GetRequiredService<SagaOrchestrator>().RunBatchAsync(mine, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Every step is idempotent: each runs again on its own, and one that fails alone is left to the sweep.
            LogBatchFailed(exception, mine.Count);
            alone = mine.Count > 1 ? mine : [];
            if (alone.Count == 0)
            {
                // A batch of one failed alone already.
                await DeferAsync(mine[0]).ConfigureAwait(false);
            }
        }

        foreach (var id in mine.Except(alone))
        {
            lease.Release(id);
        }

        await Parallel.ForEachAsync(alone, cancellationToken, async (id, ct) =>
        {
            try
            {
                await RunAloneAsync(id, ct).ConfigureAwait(false);
            }
            finally
            {
                lease.Release(id);
            }
        }).ConfigureAwait(false);
    }

    private async Task RunAloneAsync(Guid reservationId, CancellationToken cancellationToken)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<SagaOrchestrator>().RunAsync(reservationId, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception exception)
        {
            LogRunFailed(exception, reservationId);
            await DeferAsync(reservationId).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Moves a saga whose run failed alone (a step's own failure has its backoff already) to <see cref="SagaOptions.MaxBackoff"/>
    /// from now. The sweep takes the longest-due sagas first: one that fails on every run would otherwise be retried at
    /// every tick, and enough of them would hold back every other saga. Never moves a saga's next look earlier. Where
    /// PostgreSQL refuses that too, the saga is kept out of this process's sweep in memory (<see cref="SagaDeferrals"/>).
    /// </summary>
    private async Task DeferAsync(Guid reservationId)
    {
        var until = time.UtcNowMicros() + options.Value.MaxBackoff;
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<BookingDbContext>().Sagas
                .Where(s => s.ReservationId == reservationId && s.NextAttemptAt < until)
                .ExecuteUpdateAsync(set => set.SetProperty(s => s.NextAttemptAt, until))
                .ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            // PostgreSQL is away, or refuses this saga's row.
            if (deferrals.Defer(reservationId, options.Value.MaxBackoff))
            {
                LogDeferredInMemory(exception, reservationId);
            }
            else
            {
                LogDeferFailed(exception, reservationId);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A batch of {SagaCount} sagas stopped early; they run again one at a time, and the sweep resumes any that fail alone")]
    private partial void LogBatchFailed(Exception exception, int sagaCount);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Saga {ReservationId} stopped early; the sweep will resume it")]
    private partial void LogRunFailed(Exception exception, Guid reservationId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Saga {ReservationId} could not be put back in the sweep's queue in PostgreSQL; this worker's sweep leaves it out for a while")]
    private partial void LogDeferredInMemory(Exception exception, Guid reservationId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Saga {ReservationId} could not be put back in the sweep's queue in PostgreSQL, and too many are left out already; it is retried at the next tick")]
    private partial void LogDeferFailed(Exception exception, Guid reservationId);
}
