using System.Collections.Concurrent;

namespace Booking.SagaWorker.Saga;

/// <summary>
/// Runs a saga in its own scope, at most once at a time per reservation in this process: the consumer and the
/// sweep may both ask for the same one, and the second asker simply leaves it to the first.
/// </summary>
public sealed partial class SagaRunner(IServiceScopeFactory scopes, ILogger<SagaRunner> logger)
{
    private readonly ConcurrentDictionary<Guid, byte> _running = new();

    public async Task RunAsync(Guid reservationId, CancellationToken cancellationToken)
    {
        if (!_running.TryAdd(reservationId, 0))
        {
            return;
        }

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
            // Its state is in PostgreSQL; the sweep resumes it once it is due.
            LogRunFailed(exception, reservationId);
        }
        finally
        {
            _running.TryRemove(reservationId, out _);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Saga {ReservationId} stopped early; the sweep will resume it")]
    private partial void LogRunFailed(Exception exception, Guid reservationId);
}
