using System.Collections.Concurrent;

namespace Booking.SagaWorker.Saga;

/// <summary>
/// Runs sagas, each at most once at a time in this process: the consumer and the sweep may both ask for the same
/// one, and the second asker simply leaves it to the first. Sagas come in batches (one read and one commit for the
/// lot); those a batch hands back run on their own, each in its own scope, and so does every saga of a batch that
/// failed: the batch shares one commit, so a saga that can never be written would otherwise hold back all the others
/// it is batched with, the sweep's batches included, for ever.
/// </summary>
public sealed partial class SagaRunner(IServiceScopeFactory scopes, ILogger<SagaRunner> logger)
{
    private readonly ConcurrentDictionary<Guid, byte> _running = new();

    public async Task RunBatchAsync(IReadOnlyCollection<Guid> reservationIds, CancellationToken cancellationToken)
    {
        var mine = reservationIds.Distinct().Where(id => _running.TryAdd(id, 0)).ToList();
        if (mine.Count == 0)
        {
            return;
        }

        IReadOnlyList<Guid> alone;
        try
        {
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
            }

            foreach (var id in mine.Except(alone))
            {
                _running.TryRemove(id, out _);
            }

            await Parallel.ForEachAsync(alone, cancellationToken, async (id, ct) => await RunAloneAsync(id, ct).ConfigureAwait(false)).ConfigureAwait(false);
        }
        finally
        {
            foreach (var id in mine)
            {
                _running.TryRemove(id, out _);
            }
        }
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
        }
        finally
        {
            _running.TryRemove(reservationId, out _);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A batch of {SagaCount} sagas stopped early; they run again one at a time, and the sweep resumes any that fail alone")]
    private partial void LogBatchFailed(Exception exception, int sagaCount);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Saga {ReservationId} stopped early; the sweep will resume it")]
    private partial void LogRunFailed(Exception exception, Guid reservationId);
}
