using Confluent.Kafka;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.Hosting;

/// <summary>Kafka clients registered the way Aspire's Confluent.Kafka integration does, from <c>ConnectionStrings:{name}</c>.</summary>
public static class KafkaClientExtensions
{
    /// <summary>An idempotent, acks=all producer of string keys and values, with a health check.</summary>
    public static IHostApplicationBuilder AddKafkaProducer(this IHostApplicationBuilder builder, string connectionName, Action<ProducerConfig>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var bootstrap = BootstrapServers(builder, connectionName);
        builder.Services.AddSingleton(services =>
        {
            var config = new ProducerConfig
            {
                BootstrapServers = bootstrap,
                EnableIdempotence = true,
                Acks = Acks.All,
                LingerMs = 2,
                ClientId = builder.Environment.ApplicationName,
            };
            configure?.Invoke(config);
            var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("Kafka.Producer");
            return new ProducerBuilder<string, string>(config)
                .SetLogHandler((_, message) => logger.LogDebug("{Facility}: {Message}", message.Facility, message.Message))
                .SetErrorHandler((_, error) => logger.LogWarning("Kafka producer error {Code}: {Reason}", error.Code, error.Reason))
                .Build();
        });
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            connectionName,
            services => new KafkaHealthCheck(services.GetRequiredService<IProducer<string, string>>()),
            failureStatus: null,
            tags: null));
        return builder;
    }

    /// <summary>The consumer settings every Booking consumer starts from; callers add the group and topics.</summary>
    public static ConsumerConfig ConsumerConfig(this IConfiguration configuration, string connectionName, string groupId)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return new ConsumerConfig
        {
            BootstrapServers = configuration.GetConnectionString(connectionName)
                ?? throw new InvalidOperationException($"ConnectionStrings:{connectionName} is missing."),
            GroupId = groupId,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
            // Short sessions: a restarted consumer gets its partitions back quickly (DESIGN.md, mock cluster facts).
            SessionTimeoutMs = 6000,
            HeartbeatIntervalMs = 1000,
        };
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
}
