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
public static partial class KafkaClientExtensions
{
    public const string ProducerSection = "Aspire:Confluent:Kafka:Producer:Config";
    public const string ConsumerSection = "Aspire:Confluent:Kafka:Consumer:Config";

    /// <summary>An idempotent, acks=all producer of string keys and values, with a health check.</summary>
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
        builder.Services.AddSingleton(services =>
        {
            var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("Kafka.Producer");
            return new ProducerBuilder<string, string>(config)
                .SetLogHandler((_, message) => LogLibrdkafka(logger, message.Facility, message.Message))
                .SetErrorHandler((_, error) => LogProducerError(logger, error.Code, error.Reason))
                .Build();
        });
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            connectionName,
            services => new KafkaHealthCheck(services.GetRequiredService<IProducer<string, string>>()),
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
        builder.Services.AddSingleton(new KafkaConsumerFactory(config));
        return builder;
    }

    private static string BootstrapServers(IHostApplicationBuilder builder, string connectionName) =>
        builder.Configuration.GetConnectionString(connectionName)
        ?? throw new InvalidOperationException(
            $"ConnectionStrings:{connectionName} is missing. Run the system through Booking.AppHost or set ConnectionStrings__{connectionName}.");

    private sealed class KafkaHealthCheck(IProducer<string, string> producer) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            try
            {
                using var admin = new DependentAdminClientBuilder(producer.Handle).Build();
                var metadata = admin.GetMetadata(TimeSpan.FromSeconds(2));
                return Task.FromResult(metadata.Brokers.Count > 0
                    ? HealthCheckResult.Healthy($"{metadata.Brokers.Count} brokers")
                    : HealthCheckResult.Unhealthy("No Kafka broker is reachable."));
            }
            catch (KafkaException exception)
            {
                return Task.FromResult(HealthCheckResult.Unhealthy("Kafka is unreachable.", exception));
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Facility}: {Message}")]
    private static partial void LogLibrdkafka(ILogger logger, string facility, string message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Kafka producer error {Code}: {Reason}")]
    private static partial void LogProducerError(ILogger logger, ErrorCode code, string reason);
}

/// <summary>Builds consumers from the registered settings; the caller adds its handlers and owns the consumer.</summary>
public sealed class KafkaConsumerFactory(ConsumerConfig config)
{
    public ConsumerConfig Config => new(config.ToDictionary(entry => entry.Key, entry => entry.Value));

    public ConsumerBuilder<string, string> CreateBuilder() => new(Config);
}
