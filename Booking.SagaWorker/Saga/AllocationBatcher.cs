using System.Diagnostics;
using System.Threading.Channels;

namespace Booking.SagaWorker.Saga;

/// <summary>
/// Allocations of many sagas in one call to the performance service: the sections asked for while a call is out
/// go together in the next one (<c>POST /allocations/batch</c>), so the sagas of a batch, whose allocation steps
/// run side by side, cost one HTTP call instead of one per section. Each saga still gets its own result, and each
/// allocation carries its saga step's trace context, so the performance service's span joins that booking's trace.
/// </summary>
public sealed class AllocationBatcher(IServiceProvider services)
{
    /// <summary>At most this many allocations in one call (the performance service's limit).</summary>
    public const int MaxBatch = 500;

    /// <summary>Calls out at once: while one waits on the performance service's commit, the next fills.</summary>
    private const int Senders = 2;

    private static readonly ActivitySource Source = new(BookingTelemetry.SagaSourceName);

    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>();
    private int _started;

    private sealed record Pending(AllocationRequest Request, TaskCompletionSource<StepResult> Result);

    /// <summary>Allocates every section of one reservation; the first refusal or failure, else success.</summary>
    public async Task<StepResult> AllocateAsync(Guid performanceId, IEnumerable<(string Section, int Seats)> sections, Guid reservationId)
    {
        StartSenders();
        var traceParent = Activity.Current?.Id;
        var pending = sections.Select(s => new Pending(
            new AllocationRequest(performanceId, s.Section, reservationId, s.Seats, traceParent),
            new TaskCompletionSource<StepResult>(TaskCreationOptions.RunContinuationsAsynchronously))).ToList();
        foreach (var item in pending)
        {
            _queue.Writer.TryWrite(item);
        }

        var results = await Task.WhenAll(pending.Select(p => p.Result.Task)).ConfigureAwait(false);
        return results.FirstOrDefault(r => r.Outcome != StepOutcome.Succeeded, StepResult.Done);
    }

    private void StartSenders()
    {
        if (Interlocked.Exchange(ref _started, 1) == 0)
        {
            // The loops outlive the saga that happens to start them: they must not carry its trace.
            using (ExecutionContext.SuppressFlow())
            {
                for (var i = 0; i < Senders; i++)
                {
                    _ = Task.Run(() => _queue.Reader.ForEachBatchAsync(MaxBatch, SendBatchAsync));
                }
            }
        }
    }

    private async Task SendBatchAsync(List<Pending> batch)
    {
        var callers = batch.Select(p => ActivityContext.TryParse(p.Request.TraceParent, null, out var context) ? context : default).ToList();
        // The call's span is in the trace of its first allocation, linked to the others.
        using var activity = Source.StartActivity("allocate_sections", ActivityKind.Internal, callers[0],
            links: callers.Skip(1).Where(c => c != default).Select(c => new ActivityLink(c)));
        activity?.SetTag("allocation.batch_size", batch.Count);
        try
        {
            var client = services.GetRequiredService<PerformanceAllocationClient>();
            var results = await client.AllocateBatchAsync(batch.Select(p => p.Request).ToList(), CancellationToken.None).ConfigureAwait(false);
            for (var i = 0; i < batch.Count; i++)
            {
                batch[i].Result.TrySetResult(results[i]);
            }
        }
        catch (Exception exception)
        {
            // Unreachable, slow, an open circuit: the saga tries again later.
            activity?.SetStatus(ActivityStatusCode.Error, exception.Message);
            batch.ForEach(p => p.Result.TrySetResult(StepResult.Retry($"Allocation of section {p.Request.Section} failed: {exception.GetType().Name}: {exception.Message}")));
        }
    }
}
