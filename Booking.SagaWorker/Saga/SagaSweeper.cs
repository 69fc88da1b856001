using Booking.Core;
using Booking.Core.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Booking.SagaWorker.Saga;

/// <summary>
/// Resumes every unfinished saga that is due: retries whose backoff ran out, cancels the API asked for, and sagas
/// that made no progress for a while (a lost event, a worker killed mid-step). At start-up that is every saga a
/// dead worker left behind. No saga is left stuck.
/// </summary>
public sealed partial class SagaSweeper(
    IServiceScopeFactory scopes,
    SagaRunner runner,
    SagaDeferrals deferrals,
    TimeProvider time,
    IOptions<SagaOptions> options,
    ILogger<SagaSweeper> logger) : BackgroundService
{
    /// <summary>The most sagas one sweep takes, the longest due first.</summary>
    public const int MostPerSweep = 200;
    private static readonly SagaState[] Unfinished = [SagaState.Started, SagaState.Compensating, SagaState.Cancelling];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.SweepInterval, time);
        do
        {
            try
            {
                var due = await FindDueAsync(stoppingToken).ConfigureAwait(false);
                if (due.Count > 0)
                {
                    LogResuming(due.Count);
                    await Parallel.ForEachAsync(due.Chunk(options.Value.BatchSize), stoppingToken,
                        async (batch, ct) => await runner.RunBatchAsync(batch, ct).ConfigureAwait(false)).ConfigureAwait(false);
                }
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                LogSweepFailed(exception);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    private async Task<List<Guid>> FindDueAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BookingDbContext>();
        var now = time.UtcNowMicros();
        var deferred = deferrals.Current();
        return await db.Sagas.AsNoTracking()
            .Where(s => (Unfinished.Contains(s.State) || (s.State == SagaState.Completed && s.CancelRequested)) && s.NextAttemptAt <= now)
            .Where(s => !EF.Parameter(deferred).Contains(s.ReservationId))
            .OrderBy(s => s.NextAttemptAt)
            .Select(s => s.ReservationId)
            .Take(MostPerSweep)
            .ToListAsync(cancellationToken)
            .ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Resuming {SagaCount} due sagas")]
    private partial void LogResuming(int sagaCount);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Saga sweep failed; it runs again at the next tick")]
    private partial void LogSweepFailed(Exception exception);
}
