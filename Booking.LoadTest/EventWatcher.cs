using System.Collections.Concurrent;
using System.Text;
using Booking.Core.Outbox;
using Confluent.Kafka;

namespace Booking.LoadTest;

/// <summary>
/// An independent Kafka consumer of the requested and outcome topics: it tells each virtual user when its
/// reservation's completed (or failed) event was published, keeps every outcome event id for the audit, and when
/// each event was first seen (for the breakdown of a booking's time).
/// </summary>
public sealed class EventWatcher : IDisposable
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource<string>> _waiting = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _outcomes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Topic, string Key), DateTimeOffset> _seen = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private readonly string _bootstrap;

    public EventWatcher(string bootstrapServers)
    {
        _bootstrap = bootstrapServers;
        _thread = new Thread(Run) { IsBackground = true, Name = "event-watcher" };
        _thread.Start();
    }

    /// <summary>(topic, reservation id, event id) of every outcome event seen.</summary>
    public ConcurrentQueue<(string Topic, string ReservationId, string EventId)> Events { get; } = new();

    /// <summary>Completes with the outcome topic once the reservation's event is seen.</summary>
    public Task<string> WaitAsync(Guid reservationId)
    {
        var key = reservationId.ToString("D");
        var waiter = _waiting.GetOrAdd(key, _ => new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (_outcomes.TryGetValue(key, out var topic))
        {
            waiter.TrySetResult(topic);
        }

        return waiter.Task;
    }

    /// <summary>When an event of <paramref name="topic"/> for the reservation was first seen, if it was.</summary>
    public DateTimeOffset? SeenAt(string topic, Guid reservationId) =>
        _seen.TryGetValue((topic, reservationId.ToString("D")), out var at) ? at : null;

    private void Run()
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = _bootstrap,
            GroupId = "loadtest-" + Guid.NewGuid().ToString("N"),
            // From the start: nothing published before the consumer joined is missed.
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
            SessionTimeoutMs = 6000,
            // The instrument must not add latency: librdkafka's default lets a fetch wait 500 ms for data.
            FetchWaitMaxMs = 10,
        };
        using var consumer = new ConsumerBuilder<string, string>(config).Build();
        consumer.Subscribe([BookingTopics.Requested, BookingTopics.Completed, BookingTopics.Failed]);
        while (!_stop.IsCancellationRequested)
        {
            ConsumeResult<string, string>? message;
            try
            {
                message = consumer.Consume(TimeSpan.FromMilliseconds(100));
            }
            catch (ConsumeException)
            {
                continue;
            }

            if (message?.Message is null)
            {
                continue;
            }

            var key = message.Message.Key;
            _seen.TryAdd((message.Topic, key), DateTimeOffset.UtcNow);
            if (message.Topic == BookingTopics.Requested)
            {
                continue;
            }

            var eventId = message.Message.Headers.TryGetLastBytes("event-id", out var bytes) ? Encoding.UTF8.GetString(bytes) : string.Empty;
            Events.Enqueue((message.Topic, key, eventId));
            _outcomes.TryAdd(key, message.Topic);
            if (_waiting.TryGetValue(key, out var waiter))
            {
                waiter.TrySetResult(message.Topic);
            }
        }

        consumer.Close();
    }

    public void Dispose()
    {
        _stop.Cancel();
        _thread.Join(TimeSpan.FromSeconds(10));
        _stop.Dispose();
    }
}
