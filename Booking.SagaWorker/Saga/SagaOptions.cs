namespace Booking.SagaWorker.Saga;

/// <summary>The <c>Saga</c> section: retry and resume policy of the orchestrator.</summary>
public sealed class SagaOptions
{
    public const string SectionName = "Saga";

    /// <summary>First retry delay; it doubles per attempt up to <see cref="MaxBackoff"/>, with jitter.</summary>
    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often the sweep looks for sagas that are due (retries, cancels, stalled ones).</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The Kafka consumer group of the requested-event consumer.</summary>
    public const string DefaultConsumerGroup = "booking-saga";

    public string ConsumerGroup { get; set; } = DefaultConsumerGroup;

    /// <summary>How many requested events the consumer runs at once.</summary>
    public int MaxConcurrency { get; set; } = 256;

    /// <summary>At most this many sagas share one read and one commit.</summary>
    public int BatchSize { get; set; } = 64;

    /// <summary>
    /// How often the consumer commits the offsets of finished sagas. A partition a rebalance takes away, and every
    /// partition when the worker stops, has its finished sagas' offsets committed there and then as well.
    /// </summary>
    public TimeSpan CommitInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan Backoff(int attempt)
    {
        var capped = RetryDelay.Doubled(InitialBackoff, MaxBackoff, attempt);
        return capped * (0.75 + (Random.Shared.NextDouble() * 0.5));
    }
}
