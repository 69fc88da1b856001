using Confluent.Kafka;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Kafka clients registered the way Aspire.Confluent.Kafka does (that package is not obtainable here): the
/// broker list from <c>ConnectionStrings:{name}</c>, librdkafka settings from the sections
/// <c>Aspire:Confluent:Kafka:Producer:Config</c> and <c>Aspire:Confluent:Kafka:Consumer:Config</c> (any
/// librdkafka property by its .NET name), then the caller's code; a health check with the client.
/// </summary>
public static class KafkaClientExtensions
{
    public const string ProducerSection = "Aspire:Confluent:Kafka:Producer:Config";
    public const string ConsumerSection = "Aspire:Confluent:Kafka:Consumer:Config";

    /// <summary>
    /// An idempotent, acks=all producer of string keys and values, held by a <see cref="KafkaProducerFactory"/> (which
    /// replaces it after a fatal error), with a health check.
    /// </summary>
    public static IHostApplicationBuilder AddKafkaProducer(this IHostApplicationBuilder builder, string connectionName, Action<ProducerConfig>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var config = new ProducerConfig
        {
            BootstrapServers = BootstrapServers(builder, connectionName),
            EnableIdempotence = true,
            Acks = Acks.All,
            LingerMs = 2,
            ClientId = builder.Environment.ApplicationName,
        };
        builder.Configuration.GetSection(ProducerSection).Bind(config);
        configure?.Invoke(config);
        if (config.EnableIdempotence != true || config.Acks != Acks.All)
        {
            // The outbox marks a row sent once Kafka acknowledged it: a weaker producer could lose or repeat events.
            throw new InvalidOperationException($"{ProducerSection}: EnableIdempotence must stay true and Acks must stay All; events could be lost or duplicated otherwise.");
        }

        builder.Services.AddSingleton(services => new KafkaProducerFactory(config, services.GetRequiredService<ILoggerFactory>().CreateLogger("Kafka.Producer")));
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            connectionName,
            services => new KafkaHealthCheck(services.GetRequiredService<KafkaProducerFactory>()),
            failureStatus: null,
            tags: null));
        return builder;
    }

    /// <summary>
    /// Consumers of string keys and values in group <paramref name="groupId"/>: a <see cref="KafkaConsumerFactory"/>
    /// that builds them (a consumer belongs to the loop that polls it, with that loop's rebalance handlers).
    /// Manual commits, earliest offset, short sessions (a restarted consumer gets its partitions back quickly).
    /// </summary>
    public static IHostApplicationBuilder AddKafkaConsumer(this IHostApplicationBuilder builder, string connectionName, string groupId, Action<ConsumerConfig>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var config = new ConsumerConfig
        {
            BootstrapServers = BootstrapServers(builder, connectionName),
            GroupId = groupId,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
            // Short sessions: a restarted consumer gets its partitions back quickly (DESIGN.md, mock cluster facts).
            SessionTimeoutMs = 6000,
            HeartbeatIntervalMs = 1000,
            ClientId = builder.Environment.ApplicationName,
        };
        builder.Configuration.GetSection(ConsumerSection).Bind(config);
        configure?.Invoke(config);
        if (config.EnableAutoCommit != false)
        {
            // Offsets are committed for the sagas this worker finished (OffsetTracker), never on a timer.
            throw new InvalidOperationException($"{ConsumerSection}: EnableAutoCommit must stay false; offsets are committed for finished work only.");
        }

        builder.Services.AddSingleton(services => new KafkaConsumerFactory(config, services.GetRequiredService<ILoggerFactory>().CreateLogger("Kafka.Consumer")));
        return builder;
    }

    private static string BootstrapServers(IHostApplicationBuilder builder, string connectionName) =>
        builder.Configuration.GetConnectionString(connectionName)
        ?? throw new InvalidOperationException(
            $"ConnectionStrings:{connectionName} is missing. Run the system through Booking.AppHost or set ConnectionStrings__{connectionName}.");

    private sealed class KafkaHealthCheck(KafkaProducerFactory producers) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            try
            {
                using var admin = new DependentAdminClientBuilder(producers.Current.Handle).Build();
                var metadata = admin.GetMetadata(TimeSpan.FromSeconds(2));
                return Task.FromResult(metadata.Brokers.Count > 0
                    ? HealthCheckResult.Healthy($"{metadata.Brokers.Count} brokers")
                    : HealthCheckResult.Unhealthy("No Kafka broker is reachable."));
            }
            catch (KafkaException exception)
            {
                return Task.FromResult(HealthCheckResult.Unhealthy("Kafka is unreachable.", exception));
            }
            catch (ObjectDisposedException exception)
            {
                return Task.FromResult(HealthCheckResult.Degraded("The Kafka producer is being replaced after a fatal error.", exception));
            }
        }
    }
}

/// <summary>
/// Builds consumers from the registered settings, with librdkafka's own lines sent to the log (not to standard error,
/// its default); the caller adds its other handlers and owns the consumer.
/// </summary>
public sealed class KafkaConsumerFactory(ConsumerConfig config, ILogger logger)
{
    public ConsumerConfig Config => new(config.ToDictionary(entry => entry.Key, entry => entry.Value));

    public ConsumerBuilder<string, string> CreateBuilder() =>
        new ConsumerBuilder<string, string>(Config).SetLogHandler((_, message) => LibrdkafkaLog.Write(logger, message));
}

/// <summary>librdkafka's own log lines (connection attempts, state changes), at debug level: its errors reach the error handlers.</summary>
internal static partial class LibrdkafkaLog
{
    public static void Write(ILogger logger, LogMessage message) => Line(logger, message.Facility, message.Message);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Facility}: {Message}")]
    private static partial void Line(ILogger logger, string facility, string message);
}

/// <summary>
/// Holds the process's producer, built from the registered settings with its log and error handlers. A producer that
/// hit a fatal error (an idempotent producer out of step with the broker) fails every message from then on, so its
/// user, when its deliveries fail, calls <see cref="ReplaceIfFailed"/> and carries on with <see cref="Current"/>.
/// </summary>
public sealed partial class KafkaProducerFactory(ProducerConfig config, ILogger logger) : IDisposable
{
    private readonly Lock _gate = new();
    private IProducer<string, string>? _current;
    private Error? _currentFatalError;

    public ProducerConfig Config => new(config.ToDictionary(entry => entry.Key, entry => entry.Value));

    /// <summary>The producer in use, built on first use.</summary>
    public IProducer<string, string> Current
    {
        get
        {
            lock (_gate)
            {
                return _current ??= Build();
            }
        }
    }

    /// <summary>
    /// After <paramref name="producer"/>'s deliveries failed with <paramref name="deliveryError"/>: when it is the current
    /// producer and broken for good (it reported a fatal error, or the delivery says so), disposes it and builds its
    /// successor. Messages it still held are failed with it; the caller publishes them again.
    /// </summary>
    public void ReplaceIfFailed(IProducer<string, string> producer, Error deliveryError)
    {
        ArgumentNullException.ThrowIfNull(producer);
        ArgumentNullException.ThrowIfNull(deliveryError);
        lock (_gate)
        {
            var fatal = _currentFatalError ?? (deliveryError.Code == ErrorCode.Local_Fatal ? deliveryError : null);
            if (!ReferenceEquals(producer, _current) || fatal is null)
            {
                return;
            }

            LogReplacing(logger, producer.Name, fatal.Code, fatal.Reason);
            _current = Build();
            _currentFatalError = null;
        }

        // Outside the gate: disposing waits for the producer's poll thread, which may itself be waiting for the gate
        // in OnError (the fatal error's own report, handled after its failed deliveries).
        producer.Dispose();
    }

    public void Dispose()
    {
        IProducer<string, string>? current;
        lock (_gate)
        {
            (current, _current) = (_current, null);
        }

        current?.Dispose();
    }

    private IProducer<string, string> Build() => new ProducerBuilder<string, string>(config)
        .SetLogHandler((_, message) => LibrdkafkaLog.Write(logger, message))
        .SetErrorHandler(OnError)
        .Build();

    private void OnError(IProducer<string, string> producer, Error error)
    {
        LogProducerError(logger, error.Code, error.IsFatal, error.Reason);
        if (error.IsFatal)
        {
            lock (_gate)
            {
                if (ReferenceEquals(producer, _current))
                {
                    _currentFatalError = error;
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Kafka producer error {Code} (fatal: {IsFatal}): {Reason}")]
    private static partial void LogProducerError(ILogger logger, ErrorCode code, bool isFatal, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Kafka producer {Name} failed for good ({Code}: {Reason}); replacing it with a new producer")]
    private static partial void LogReplacing(ILogger logger, string name, ErrorCode code, string reason);
}
