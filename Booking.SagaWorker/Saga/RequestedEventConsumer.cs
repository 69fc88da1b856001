using Booking.Core.Outbox;
using Confluent.Kafka;
using Microsoft.Extensions.Options;

namespace Booking.SagaWorker.Saga;

/// <summary>
/// Starts sagas from <c>booking.reservation.requested</c>. Messages are taken in batches and their sagas run
/// concurrently; offsets are committed only after the whole batch ran, so a crash replays (never skips) them.
/// </summary>
public sealed partial class RequestedEventConsumer(
    SagaRunner runner,
    IConfiguration configuration,
    IOptions<SagaOptions> options,
    ILogger<RequestedEventConsumer> logger) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        // Consume() blocks; keep it off the thread pool.
        Task.Factory.StartNew(() => ConsumeLoopAsync(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();

    private async Task ConsumeLoopAsync(CancellationToken stoppingToken)
    {
        using var consumer = new ConsumerBuilder<string, string>(configuration.ConsumerConfig("kafka", options.Value.ConsumerGroup))
            .SetErrorHandler((_, error) => LogKafkaError(error.Code, error.Reason))
            .Build();
        consumer.Subscribe(BookingTopics.Requested);
        var batch = new List<ConsumeResult<string, string>>();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                batch.Clear();
                try
                {
                    var first = consumer.Consume(TimeSpan.FromMilliseconds(500));
                    if (first is null)
                    {
                        continue;
                    }

                    batch.Add(first);
                    while (batch.Count < options.Value.MaxConcurrency && consumer.Consume(TimeSpan.Zero) is { } next)
                    {
                        batch.Add(next);
                    }
                }
                catch (ConsumeException exception)
                {
                    LogKafkaError(exception.Error.Code, exception.Error.Reason);
                    await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken).ConfigureAwait(false);
                    continue;
                }

                var sagas = batch
                    .Select(message => Guid.TryParse(message.Message.Key, out var id) ? id : Guid.Empty)
                    .Where(id => id != Guid.Empty)
                    .Distinct()
                    .Select(id => runner.RunAsync(id, stoppingToken));
                await Task.WhenAll(sagas).ConfigureAwait(false);

                try
                {
                    consumer.Commit(batch.GroupBy(m => m.TopicPartition).Select(g => new TopicPartitionOffset(g.Key, g.Max(m => m.Offset.Value) + 1)));
                }
                catch (KafkaException exception)
                {
                    // Uncommitted messages come again; their sagas are already finished or resume idempotently.
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Kafka consumer error {Code}: {Reason}")]
    private partial void LogKafkaError(ErrorCode code, string reason);
}
