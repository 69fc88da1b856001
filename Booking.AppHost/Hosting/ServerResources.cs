namespace Booking.AppHost.Hosting;

/// <summary>Redis: the given connection string, or an embedded redis-server with AOF under the data directory.</summary>
public sealed class RedisResource(string name, string? externalConnectionString, bool durable) : Resource(name)
{
    private RedisServer? _server;

    public override string Type => "redis";

    public override string? ConnectionString => externalConnectionString ?? _server?.ConnectionString;

    public override IReadOnlyList<string> Endpoints => ConnectionString is { } c ? [$"redis://{c}"] : [];

    public override IReadOnlyList<string> ConsoleOutput => _server?.Process.Output ?? [];

    public override async Task StartAsync(AppHostContext context, CancellationToken cancellationToken)
    {
        State = ResourceState.Starting;
        if (externalConnectionString is null)
        {
            _server = await RedisServer.StartAsync(Path.Combine(context.DataDirectory, Name), appendOnly: durable, cancellationToken: cancellationToken).ConfigureAwait(false);
        }

        State = ResourceState.Running;
        Healthy = true;
    }

    public override async Task StopAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync().ConfigureAwait(false);
        }

        State = ResourceState.Stopped;
        Healthy = false;
    }
}

/// <summary>PostgreSQL: an embedded server under the data directory. Its databases are resources of their own.</summary>
public sealed class PostgresResource(string name, bool durable) : Resource(name)
{
    private PostgresServer? _server;

    public override string Type => "postgres";

    public PostgresServer Server => _server ?? throw new InvalidOperationException($"{Name} has not started.");

    public override string? ConnectionString => _server?.ConnectionString("postgres");

    public override IReadOnlyList<string> Endpoints => _server is { } s ? [$"postgresql://127.0.0.1:{s.Port}"] : [];

    public override IReadOnlyList<string> ConsoleOutput => _server?.Process.Output ?? [];

    public override async Task StartAsync(AppHostContext context, CancellationToken cancellationToken)
    {
        State = ResourceState.Starting;
        // Room for every service's pool of up to 100 (four with the load tool's naive API) plus tools.
        _server = await PostgresServer.StartAsync(Path.Combine(context.DataDirectory, Name), durable: durable, maxConnections: 500, cancellationToken: cancellationToken).ConfigureAwait(false);
        State = ResourceState.Running;
        Healthy = true;
    }

    public override async Task StopAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync().ConfigureAwait(false);
        }

        State = ResourceState.Stopped;
        Healthy = false;
    }
}

/// <summary>A database on a PostgreSQL resource, or the given connection string when one is configured.</summary>
public sealed class DatabaseResource(string name, PostgresResource? server, string? externalConnectionString) : Resource(name)
{
    public override string Type => "postgres-database";

    public override string? ConnectionString => externalConnectionString ?? (State == ResourceState.Running ? server!.Server.ConnectionString(Name) : null);

    public override async Task StartAsync(AppHostContext context, CancellationToken cancellationToken)
    {
        State = ResourceState.Starting;
        if (externalConnectionString is null)
        {
            await server!.Server.EnsureDatabaseAsync(Name, cancellationToken).ConfigureAwait(false);
        }

        State = ResourceState.Running;
        Healthy = true;
    }

    public override Task StopAsync()
    {
        State = ResourceState.Stopped;
        Healthy = false;
        return Task.CompletedTask;
    }
}

/// <summary>Kafka: the given bootstrap servers, or librdkafka's in-memory mock cluster with every topic created.</summary>
public sealed class KafkaResource(string name, string? externalBootstrapServers, IReadOnlyList<string> topics) : Resource(name)
{
    private KafkaMockCluster? _cluster;

    public override string Type => "kafka";

    public override string? ConnectionString => externalBootstrapServers ?? _cluster?.BootstrapServers;

    public override IReadOnlyList<string> Endpoints => ConnectionString is { } c ? [$"kafka://{c}"] : [];

    /// <summary>The embedded cluster, for fault tests (broker down and up); null with an external Kafka.</summary>
    public KafkaMockCluster? MockCluster => _cluster;

    public override Task StartAsync(AppHostContext context, CancellationToken cancellationToken)
    {
        State = ResourceState.Starting;
        if (externalBootstrapServers is null)
        {
            _cluster = KafkaMockCluster.Start(topics);
        }

        State = ResourceState.Running;
        Healthy = true;
        return Task.CompletedTask;
    }

    public override Task StopAsync()
    {
        _cluster?.Dispose();
        _cluster = null;
        State = ResourceState.Stopped;
        Healthy = false;
        return Task.CompletedTask;
    }
}

/// <summary>A dependency that already runs elsewhere: only its connection string is handed to the projects.</summary>
public sealed class ConnectionStringResource(string name, string connectionString) : Resource(name)
{
    public override string Type => "connection-string";

    public override string? ConnectionString => connectionString;

    public override Task StartAsync(AppHostContext context, CancellationToken cancellationToken)
    {
        State = ResourceState.Running;
        Healthy = true;
        return Task.CompletedTask;
    }

    public override Task StopAsync()
    {
        State = ResourceState.Stopped;
        Healthy = false;
        return Task.CompletedTask;
    }
}
