using System.Runtime.InteropServices;
using System.Text;
using Confluent.Kafka;

namespace Booking.AppHost.Hosting;

/// <summary>
/// The embedded Kafka: librdkafka's built-in mock cluster, which speaks the real Kafka protocol on loopback TCP,
/// so Confluent.Kafka clients and kcat in other processes use it like a broker. It lives in memory, as long as
/// this object (and the process that made it). It has no CreateTopics handler, so every topic is made here at start.
/// </summary>
public sealed partial class KafkaMockCluster : IDisposable
{
    /// <summary>The mock cluster numbers its brokers from 1.</summary>
    public const int FirstBrokerId = 1;

    /// <summary>How many partitions each topic has unless <see cref="Start"/> is told otherwise.</summary>
    public const int Partitions = 4;

    private const int ProducerType = 0;
    private const short ProduceApiKey = 0;
    private readonly IntPtr _handle;
    private readonly IntPtr _cluster;
    private bool _disposed;

    private KafkaMockCluster(IntPtr handle, IntPtr cluster, string bootstrapServers)
    {
        _handle = handle;
        _cluster = cluster;
        BootstrapServers = bootstrapServers;
    }

    /// <summary>The <c>ConnectionStrings__kafka</c> value: comma-separated loopback brokers.</summary>
    public string BootstrapServers { get; }

    /// <summary>Starts a cluster with <paramref name="brokers"/> brokers and creates <paramref name="topics"/>.</summary>
    public static KafkaMockCluster Start(IEnumerable<string> topics, int partitions = Partitions, int brokers = 1)
    {
        ArgumentNullException.ThrowIfNull(topics);
        // Confluent.Kafka's loader picks the build of librdkafka that works on this OS first; ours then shares it.
        _ = Confluent.Kafka.Library.Version;

        var error = new byte[512];
        var conf = Native.rd_kafka_conf_new();
        // This handle only owns the cluster and never connects anywhere: keep its "no bootstrap.servers" notice quiet.
        if (Native.rd_kafka_conf_set(conf, "log_level", "3", error, (UIntPtr)error.Length) != 0)
        {
            throw new InvalidOperationException($"rd_kafka_conf_set failed: {Encoding.ASCII.GetString(error).TrimEnd('\0')}");
        }
        var handle = Native.rd_kafka_new(ProducerType, conf, error, (UIntPtr)error.Length);
        if (handle == IntPtr.Zero)
        {
            throw new InvalidOperationException($"rd_kafka_new failed: {Encoding.ASCII.GetString(error).TrimEnd('\0')}");
        }

        var cluster = Native.rd_kafka_mock_cluster_new(handle, brokers);
        if (cluster == IntPtr.Zero)
        {
            Native.rd_kafka_destroy(handle);
            throw new InvalidOperationException("rd_kafka_mock_cluster_new failed.");
        }

        var bootstrap = Marshal.PtrToStringAnsi(Native.rd_kafka_mock_cluster_bootstraps(cluster))!;
        var mock = new KafkaMockCluster(handle, cluster, bootstrap);
        // A restarted consumer otherwise waits on the mock's fixed rebalance timer for its partitions.
        Native.rd_kafka_mock_group_initial_rebalance_delay_ms(cluster, 100);
        foreach (var topic in topics)
        {
            mock.CreateTopic(topic, partitions);
        }

        return mock;
    }

    public void CreateTopic(string topic, int partitions)
    {
        var code = Native.rd_kafka_mock_topic_create(_cluster, topic, partitions, 1);
        if (code != 0)
        {
            throw new InvalidOperationException($"Creating topic {topic} failed with librdkafka error {code}.");
        }
    }

    /// <summary>Takes a broker down (connections refused) until <see cref="SetBrokerUp"/>; for fault tests.</summary>
    public void SetBrokerDown(int brokerId) => Check(Native.rd_kafka_mock_broker_set_down(_cluster, brokerId), "broker_set_down");

    public void SetBrokerUp(int brokerId) => Check(Native.rd_kafka_mock_broker_set_up(_cluster, brokerId), "broker_set_up");

    /// <summary>Makes <paramref name="brokerId"/> a partition's leader; for fault tests.</summary>
    public void SetPartitionLeader(string topic, int partition, int brokerId) =>
        Check(Native.rd_kafka_mock_partition_set_leader(_cluster, topic, partition, brokerId), "partition_set_leader");

    /// <summary>Delays every answer of a broker by <paramref name="roundTrip"/> (zero: none); for tests that need a slow Kafka.</summary>
    public void SetBrokerRoundTrip(int brokerId, TimeSpan roundTrip) =>
        Check(Native.rd_kafka_mock_broker_set_rtt(_cluster, brokerId, (int)roundTrip.TotalMilliseconds), "broker_set_rtt");

    /// <summary>The next produce requests (from any client) are answered with these errors, one each; for fault tests.</summary>
    public void FailNextProduceRequests(params ErrorCode[] errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        Native.rd_kafka_mock_push_request_errors_array(_cluster, ProduceApiKey, (UIntPtr)errors.Length, [.. errors.Select(error => (int)error)]);
    }

    /// <summary>
    /// Answers every client's metadata request for <paramref name="topic"/> with <paramref name="error"/> from now on
    /// (<see cref="ErrorCode.NoError"/>: no more); a producer that learns of it fails that topic's messages at once.
    /// For fault tests.
    /// </summary>
    public void SetTopicError(string topic, ErrorCode error) => Native.rd_kafka_mock_topic_set_error(_cluster, topic, (int)error);

    /// <summary>Drops the produce errors <see cref="FailNextProduceRequests"/> pushed that no request has taken yet.</summary>
    public void ClearProduceErrors() => Native.rd_kafka_mock_clear_request_errors(_cluster, ProduceApiKey);

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        // The cluster belongs to the handle: destroy it first.
        Native.rd_kafka_mock_cluster_destroy(_cluster);
        Native.rd_kafka_destroy(_handle);
    }

    private static void Check(int code, string what)
    {
        if (code != 0)
        {
            throw new InvalidOperationException($"rd_kafka_mock_{what} failed with librdkafka error {code}.");
        }
    }

    private static class Native
    {
        private const string Library = "librdkafka";

        [DllImport(Library)]
        public static extern IntPtr rd_kafka_conf_new();

        [DllImport(Library, CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
        public static extern int rd_kafka_conf_set(IntPtr conf, string name, string value, byte[] errstr, UIntPtr errstrSize);

        [DllImport(Library)]
        public static extern IntPtr rd_kafka_new(int type, IntPtr conf, byte[] errstr, UIntPtr errstrSize);

        [DllImport(Library)]
        public static extern void rd_kafka_destroy(IntPtr rk);

        [DllImport(Library)]
        public static extern IntPtr rd_kafka_mock_cluster_new(IntPtr rk, int brokerCount);

        [DllImport(Library)]
        public static extern void rd_kafka_mock_cluster_destroy(IntPtr mcluster);

        [DllImport(Library)]
        public static extern IntPtr rd_kafka_mock_cluster_bootstraps(IntPtr mcluster);

        [DllImport(Library, CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
        public static extern int rd_kafka_mock_topic_create(IntPtr mcluster, string topic, int partitionCount, int replicationFactor);

        [DllImport(Library)]
        public static extern int rd_kafka_mock_broker_set_down(IntPtr mcluster, int brokerId);

        [DllImport(Library)]
        public static extern int rd_kafka_mock_broker_set_up(IntPtr mcluster, int brokerId);

        [DllImport(Library, CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
        public static extern int rd_kafka_mock_partition_set_leader(IntPtr mcluster, string topic, int partition, int brokerId);

        [DllImport(Library)]
        public static extern int rd_kafka_mock_broker_set_rtt(IntPtr mcluster, int brokerId, int rttMs);

        [DllImport(Library)]
        public static extern void rd_kafka_mock_push_request_errors_array(IntPtr mcluster, short apiKey, UIntPtr count, int[] errors);

        [DllImport(Library)]
        public static extern void rd_kafka_mock_clear_request_errors(IntPtr mcluster, short apiKey);

        [DllImport(Library, CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
        public static extern void rd_kafka_mock_topic_set_error(IntPtr mcluster, string topic, int error);

        [DllImport(Library)]
        public static extern void rd_kafka_mock_group_initial_rebalance_delay_ms(IntPtr mcluster, int delayMs);
    }
}
