using System.Diagnostics.Metrics;
using Booking.Core;
using Booking.Core.Outbox;
using Confluent.Kafka;
using Microsoft.Extensions.Options;

namespace Booking.SagaWorker.Saga;

/// <summary>
/// Starts sagas from <c>booking.reservation.requested</c> as soon as their events arrive, up to
/// <see cref="SagaOptions.MaxConcurrency"/> at once: the events already received when one arrives form a batch
/// (<see cref="SagaOptions.BatchSize"/> at most) run with one read and one commit, and batches run side by side. Offsets are
/// committed only below the oldest saga still running, so a crash replays (never skips) an event.
/// </summary>
public sealed partial class RequestedEventConsumer(
    SagaRunner runner, KafkaConsumerFactory consumers, IOptions<SagaOptions> options, TimeProvider time, IMeterFactory meters, ILogger<RequestedEventConsumer> logger)
    : BackgroundService
{
    /// <summary>One per saga running; never disposed, since sagas still finishing after the loop ends release theirs.</summary>
    private readonly SemaphoreSlim _slots = new(options.Value.MaxConcurrency);

    /// <summary>The partitions this consumer owns now, and how many a rebalance has taken from it so far.</summary>
    private int _partitions;
    private long _partitionsRevoked;

    public int MaxConcurrency { get; } = options.Value.MaxConcurrency;

    public int BatchSize { get; } = options.Value.BatchSize;

    /// <summary>Sagas this consumer may still start at once.</summary>
    public int FreeSlots => _slots.CurrentCount;

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var meter = meters.Create(BookingTelemetry.MeterName);
        meter.CreateObservableGauge("booking.sagas.consumer_free_slots", () => _slots.CurrentCount,
            description: "Requested events the consumer may still start at once; back at its maximum whenever no saga runs.");
        meter.CreateObservableGauge("booking.sagas.consumer_partitions", () => (long)Volatile.Read(ref _partitions),
            description: "Partitions of the requested topic this worker consumes now; 0 on a worker that gets no sagas.");
        meter.CreateObservableCounter("booking.sagas.consumer_partitions_revoked", () => Interlocked.Read(ref _partitionsRevoked),
            description: "Partitions rebalances have taken from this worker; each one's unfinished events run again on its new owner.");
        // Consume() blocks, so the whole loop stays on a thread of its own and never awaits: an await would move
        // the rest of the loop, and every blocking Consume() after it, onto a thread-pool thread.
        return Task.Factory.StartNew(() => ConsumeLoop(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    private void ConsumeLoop(CancellationToken stoppingToken)
    {
        var offsets = new OffsetTracker();
        // With the incremental (cooperative-sticky) assignment of the consumer's settings, these handlers see only the
        // partitions that move: a worker joining or leaving the group takes nothing from the partitions the others keep.
        using var consumer = consumers.CreateBuilder()
            .SetErrorHandler((_, error) => LogKafkaError(error.Code, error.Reason))
            .SetPartitionsAssignedHandler((_, assigned) => Interlocked.Add(ref _partitions, assigned.Count))
            .SetPartitionsRevokedHandler((consumer, revoked) =>
            {
                // Still this consumer's until the handler returns: what finished is committed, so the partition's next
                // owner does not run those sagas again. Always so when the worker stops; while the group rebalances the
                // broker may refuse it (REBALANCE_IN_PROGRESS), and the next owner then runs them again, harmlessly.
                var partitions = revoked.Select(r => r.TopicPartition).ToHashSet();
                Commit(consumer, offsets, partitions.Contains, revoking: true);
                offsets.Revoked(partitions);
                // The count of revokes first: a reader that sees fewer partitions sees why.
                Interlocked.Add(ref _partitionsRevoked, revoked.Count);
                Interlocked.Add(ref _partitions, -revoked.Count);
            })
            .Build();
        consumer.Subscribe(BookingTopics.Requested);
        var lastCommit = time.GetTimestamp();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    if (consumer.Consume(TimeSpan.FromMilliseconds(50)) is { } message)
                    {
                        _ = RunAsync(TakeBatch(consumer, message, offsets, stoppingToken), offsets, stoppingToken);
                    }

                    if (time.GetElapsedTime(lastCommit) >= options.Value.CommitInterval)
                    {
                        lastCommit = time.GetTimestamp();
                        Commit(consumer, offsets, _ => true, revoking: false);
                    }
                }
                catch (ConsumeException exception)
                {
                    LogKafkaError(exception.Error.Code, exception.Error.Reason);
                    stoppingToken.WaitHandle.WaitOne(TimeSpan.FromSeconds(1));
                }
                catch (KafkaException exception)
                {
                    LogKafkaError(exception.Error.Code, exception.Error.Reason);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            consumer.Close();
        }
    }

    /// <summary>Commits the finished sagas' offsets of the partitions chosen. A failed commit is offered again next time; uncommitted events only come again.</summary>
    private void Commit(IConsumer<string, string> consumer, OffsetTracker offsets, Func<TopicPartition, bool> partitions, bool revoking)
    {
        if (offsets.Committable().Where(o => partitions(o.TopicPartition)).ToList() is not { Count: > 0 } committable)
        {
            return;
        }

        try
        {
            consumer.Commit(committable);
            offsets.Committed(committable);
        }
        catch (KafkaException exception) when (revoking && exception.Error.Code == ErrorCode.RebalanceInProgress)
        {
            LogNotCommittedInRebalance(committable.Count);
        }
        catch (KafkaException exception)
        {
            LogKafkaError(exception.Error.Code, exception.Error.Reason);
        }
    }

    /// <summary>
    /// The batch <paramref name="first"/> starts: whatever else already arrived joins it, as far as free slots go;
    /// nothing waits for more. With every slot busy it waits for one (back-pressure) before taking the first.
    /// </summary>
    private List<(ConsumeResult<string, string> Message, OffsetTracker.Ticket Ticket)> TakeBatch(
        IConsumer<string, string> consumer, ConsumeResult<string, string> first, OffsetTracker offsets, CancellationToken stoppingToken)
    {
        _slots.Wait(stoppingToken);
        var batch = new List<(ConsumeResult<string, string> Message, OffsetTracker.Ticket Ticket)> { (first, offsets.Started(first.TopicPartitionOffset)) };
        while (batch.Count < BatchSize && _slots.Wait(0, stoppingToken))
        {
            // An error here ends the batch, not the slots: what was taken so far still runs and gives its slots back.
            if (TryConsumeNow(consumer) is not { } next)
            {
                _slots.Release();
                break;
            }

            batch.Add((next, offsets.Started(next.TopicPartitionOffset)));
        }

        return batch;
    }

    private ConsumeResult<string, string>? TryConsumeNow(IConsumer<string, string> consumer)
    {
        try
        {
            return consumer.Consume(TimeSpan.Zero);
        }
        catch (KafkaException exception)
        {
            // Any error, a ConsumeException or one from a rebalance callback (an erroneous state after lost partitions):
            // the batch taken so far must still run and give back its slots and offsets.
            LogKafkaError(exception.Error.Code, exception.Error.Reason);
            return null;
        }
    }

    private async Task RunAsync(List<(ConsumeResult<string, string> Message, OffsetTracker.Ticket Ticket)> batch, OffsetTracker offsets, CancellationToken stoppingToken)
    {
        var cutShort = false;
        try
        {
            var ids = batch.Select(m => Guid.TryParse(m.Message.Message.Key, out var id) ? id : Guid.Empty).Where(id => id != Guid.Empty).ToList();
            await runner.RunBatchAsync(ids, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            cutShort = true;
        }
        finally
        {
            // The slots first: whatever else happens here, finished sagas always give their places back.
            _slots.Release(batch.Count);
            // Sagas the stop cut short stay in flight, so the commit as the consumer closes leaves their events to
            // come again. A saga that failed is finished here: the sweep resumes it.
            foreach (var (_, ticket) in cutShort ? [] : batch)
            {
                offsets.Finished(ticket);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "The finished sagas of {Partitions} partitions a rebalance takes away could not be committed while the group rebalances; their next owner runs them again")]
    private partial void LogNotCommittedInRebalance(int partitions);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Kafka consumer error {Code}: {Reason}")]
    private partial void LogKafkaError(ErrorCode code, string reason);
}
