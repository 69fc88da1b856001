using System.Collections.Immutable;
using System.Net.Sockets;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Booking.AppHost.Hosting;

/// <summary>
/// Kafka for development and tests: librdkafka's mock cluster, hosted in the AppHost process, speaking the real
/// Kafka protocol on loopback (Aspire.Hosting.Kafka is not obtainable here, and it needs a container anyway).
/// In memory: it lives as long as the AppHost.
/// </summary>
public sealed class KafkaMockResource(string name, IReadOnlyList<string> topics) : Resource(name), IResourceWithConnectionString
{
    private readonly BootstrapServers _bootstrap = new(name);

    public IReadOnlyList<string> Topics { get; } = topics;

    /// <summary>The running cluster, for fault injection; null before start and after stop.</summary>
    public KafkaMockCluster? Cluster => _bootstrap.Cluster;

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create($"{_bootstrap}");

    internal void Started(KafkaMockCluster cluster) => _bootstrap.Started(cluster);

    internal void Stopped() => _bootstrap.Stopped();

    /// <summary>The bootstrap address, known once the cluster runs; anything that needs it waits for the start.</summary>
    private sealed class BootstrapServers(string resourceName) : IValueProvider, IManifestExpressionProvider
    {
        private readonly TaskCompletionSource<KafkaMockCluster> _started = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public KafkaMockCluster? Cluster { get; private set; }

        public string ValueExpression => $"{{{resourceName}.bootstrapServers}}";

        public async ValueTask<string?> GetValueAsync(CancellationToken cancellationToken = default) =>
            (await _started.Task.WaitAsync(cancellationToken).ConfigureAwait(false)).BootstrapServers;

        public void Started(KafkaMockCluster cluster)
        {
            Cluster = cluster;
            _started.TrySetResult(cluster);
        }

        public void Stopped()
        {
            Cluster?.Dispose();
            Cluster = null;
        }
    }
}

public static partial class KafkaMockExtensions
{    [LoggerMessage(Level = LogLevel.Information, Message = "Kafka mock cluster on {BootstrapServers}, topics {Topics}")]
    private static partial void LogStarted(ILogger logger, string bootstrapServers, IEnumerable<string> topics);


    /// <summary>
    /// The mock cluster as an Aspire resource: started when the app starts, every topic created (the mock has no
    /// CreateTopics handler), state and a health check (a TCP connect to the bootstrap broker) in the dashboard,
    /// and commands to take the broker down and up for fault drills.
    /// </summary>
    public static IResourceBuilder<KafkaMockResource> AddKafkaMock(this IDistributedApplicationBuilder builder, string name, IReadOnlyList<string> topics)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var kafka = new KafkaMockResource(name, topics);
        var healthCheck = $"{name}_check";
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(healthCheck, _ => new BrokerReachable(kafka), failureStatus: null, tags: null));

        builder.Eventing.Subscribe<InitializeResourceEvent>(kafka, async (e, cancellationToken) =>
        {
            await e.Notifications.PublishUpdateAsync(kafka, s => s with { State = KnownResourceStates.Starting }).ConfigureAwait(false);
            var cluster = KafkaMockCluster.Start(kafka.Topics);
            kafka.Started(cluster);
            e.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.Register(kafka.Stopped);
            LogStarted(e.Logger, cluster.BootstrapServers, kafka.Topics);
            await e.Eventing.PublishAsync(new ConnectionStringAvailableEvent(kafka, e.Services), cancellationToken).ConfigureAwait(false);
            await e.Notifications.PublishUpdateAsync(kafka, s => s with
            {
                State = KnownResourceStates.Running,
                StartTimeStamp = DateTime.UtcNow,
                Properties =
                [
                    .. s.Properties,
                    new ResourcePropertySnapshot(CustomResourceKnownProperties.Source, "librdkafka mock cluster"),
                    new ResourcePropertySnapshot("kafka.bootstrap", cluster.BootstrapServers),
                    new ResourcePropertySnapshot("kafka.topics", string.Join(", ", kafka.Topics)),
                ],
            }).ConfigureAwait(false);
        });

        return builder.AddResource(kafka)
            .WithInitialState(new CustomResourceSnapshot
            {
                ResourceType = "KafkaMock",
                State = KnownResourceStates.NotStarted,
                Properties = ImmutableArray<ResourcePropertySnapshot>.Empty,
            })
            .WithIconName("Stream")
            .WithHealthCheck(healthCheck)
            .WithCommand("broker-down", "Take the broker down", _ => SetBroker(kafka, up: false),
                new CommandOptions { Description = "Refuse every Kafka connection until 'Bring the broker up' (fault drill).", IconName = "PlugDisconnected" })
            .WithCommand("broker-up", "Bring the broker up", _ => SetBroker(kafka, up: true),
                new CommandOptions { IconName = "PlugConnected" });
    }

    private static Task<ExecuteCommandResult> SetBroker(KafkaMockResource kafka, bool up)
    {
        if (kafka.Cluster is not { } cluster)
        {
            return Task.FromResult(CommandResults.Failure("The mock cluster is not running."));
        }

        if (up)
        {
            cluster.SetBrokerUp(KafkaMockCluster.FirstBrokerId);
        }
        else
        {
            cluster.SetBrokerDown(KafkaMockCluster.FirstBrokerId);
        }

        return Task.FromResult(CommandResults.Success());
    }

    private sealed class BrokerReachable(KafkaMockResource kafka) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            if (kafka.Cluster is not { } cluster)
            {
                return HealthCheckResult.Unhealthy("The mock cluster is not running.");
            }

            var (host, port) = FirstBroker(cluster.BootstrapServers);
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(host, port, cancellationToken).ConfigureAwait(false);
                return HealthCheckResult.Healthy(cluster.BootstrapServers);
            }
            catch (SocketException exception)
            {
                return HealthCheckResult.Unhealthy($"{cluster.BootstrapServers} refuses connections.", exception);
            }
        }

        private static (string Host, int Port) FirstBroker(string bootstrapServers)
        {
            var first = bootstrapServers.Split(',')[0];
            var colon = first.LastIndexOf(':');
            return (first[..colon], int.Parse(first[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        }
    }
}
