using Microsoft.Extensions.Configuration;

using Booking.AppHost.Dashboard;

namespace Booking.AppHost.Hosting;

/// <summary>A resource in the builder, with Aspire's fluent verbs.</summary>
public sealed class ResourceBuilder<T>(T resource) where T : Resource
{
    public T Resource { get; } = resource;

    /// <summary>Gives a project the connection string (or service URL) of <paramref name="other"/>.</summary>
    public ResourceBuilder<T> WithReference<TOther>(ResourceBuilder<TOther> other) where TOther : Resource
    {
        ArgumentNullException.ThrowIfNull(other);
        AsProject().AddReference(other.Resource);
        return this;
    }

    /// <summary>Starts this resource only after <paramref name="other"/> is healthy.</summary>
    public ResourceBuilder<T> WaitFor<TOther>(ResourceBuilder<TOther> other) where TOther : Resource
    {
        ArgumentNullException.ThrowIfNull(other);
        Resource.AddWaitFor(other.Resource);
        return this;
    }

    public ResourceBuilder<T> WithEnvironment(string key, string? value)
    {
        AsProject().SetEnvironment(key, value);
        return this;
    }

    /// <summary>Command-line arguments for a project.</summary>
    public ResourceBuilder<T> WithArgs(params string[] args)
    {
        AsProject().Arguments.AddRange(args);
        return this;
    }

    private ProjectResource AsProject() =>
        Resource as ProjectResource ?? throw new InvalidOperationException($"{Resource.Name} is not a project; only projects take references and environment.");
}

/// <summary>Options of one AppHost run.</summary>
public sealed record AppHostOptions
{
    /// <summary>Where embedded servers keep their data (the repository's ignored <c>.data/</c> by default).</summary>
    public required string DataDirectory { get; init; }

    public required string RepositoryRoot { get; init; }

    /// <summary>Embedded Redis with AOF and PostgreSQL with fsync; tests turn it off for speed.</summary>
    public bool Durable { get; init; } = true;

    public IConfiguration Configuration { get; init; } = new ConfigurationBuilder().Build();

    /// <summary>The dashboard's port (default 18888; 0 picks a free one); null runs without a dashboard.</summary>
    public int? DashboardPort { get; init; } = 18888;
}

/// <summary>Collects resources the way an Aspire AppHost's Program.cs does, then builds the application.</summary>
public sealed class DistributedApplicationBuilder(AppHostOptions options)
{
    private readonly List<Resource> _resources = [];

    public AppHostOptions Options { get; } = options;

    public IConfiguration Configuration => Options.Configuration;

    public ResourceBuilder<RedisResource> AddRedis(string name) =>
        Add(new RedisResource(name, Configuration.GetConnectionString(name), Options.Durable));

    /// <summary>Kafka from <c>ConnectionStrings:{name}</c>, or the embedded mock cluster with <paramref name="topics"/> created.</summary>
    public ResourceBuilder<KafkaResource> AddKafka(string name, params string[] topics) =>
        Add(new KafkaResource(name, Configuration.GetConnectionString(name), topics));

    public ResourceBuilder<PostgresResource> AddPostgres(string name) => Add(new PostgresResource(name, Options.Durable));

    /// <summary>A database on <paramref name="server"/>; a configured <c>ConnectionStrings:{name}</c> replaces it.</summary>
    public ResourceBuilder<DatabaseResource> AddDatabase(ResourceBuilder<PostgresResource> server, string name)
    {
        ArgumentNullException.ThrowIfNull(server);
        var external = Configuration.GetConnectionString(name);
        var database = Add(new DatabaseResource(name, external is null ? server.Resource : null, external));
        return external is null ? database.WaitFor(server) : database;
    }

    /// <summary>A service of this solution, by its folder name, on <paramref name="port"/> (or a free one if taken or null).</summary>
    public ResourceBuilder<ProjectResource> AddProject(string name, string projectDirectory, int? port = null) =>
        Add(new ProjectResource(name, projectDirectory, port is { } preferred ? FreePort.PreferOrNext(preferred) : FreePort.Next()));

    /// <summary>A dependency that runs elsewhere, known only by its connection string (Aspire's AddConnectionString).</summary>
    public ResourceBuilder<ConnectionStringResource> AddConnectionString(string name, string connectionString) =>
        Add(new ConnectionStringResource(name, connectionString));

    /// <summary>A resource added earlier, to reference it from one added later (e.g. by the load tool).</summary>
    public ResourceBuilder<T> Get<T>(string name) where T : Resource =>
        new((T)_resources.Single(r => r.Name == name));

    public DistributedApplication Build() => new(_resources, Options);

    private ResourceBuilder<T> Add<T>(T resource) where T : Resource
    {
        if (_resources.Any(r => r.Name == resource.Name))
        {
            throw new InvalidOperationException($"A resource named '{resource.Name}' already exists.");
        }

        _resources.Add(resource);
        return new ResourceBuilder<T>(resource);
    }
}

/// <summary>The running system: starts every resource once what it waits for is healthy, stops them in reverse.</summary>
public sealed class DistributedApplication(IReadOnlyList<Resource> resources, AppHostOptions options) : IAsyncDisposable
{
    private readonly List<Resource> _started = [];
    private DashboardServer? _dashboard;

    /// <summary>The dashboard, once started; null when the options turn it off.</summary>
    public DashboardServer? Dashboard => _dashboard;
    private readonly ILoggerFactory _loggerFactory = LoggerFactory.Create(logging => logging.AddSimpleConsole(o =>
    {
        o.SingleLine = true;
        o.TimestampFormat = "HH:mm:ss ";
    }));

    public IReadOnlyList<Resource> Resources => resources;

    public Resource this[string name] => resources.Single(r => r.Name == name);

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(options.DataDirectory);
        if (options.DashboardPort is { } port)
        {
            // First, so that every service can send its telemetry from its first line on.
            _dashboard = new DashboardServer(resources, port == 0 ? FreePort.Next() : FreePort.PreferOrNext(port));
            await _dashboard.StartAsync(cancellationToken).ConfigureAwait(false);
        }

        var context = new AppHostContext(options.DataDirectory, options.RepositoryRoot, _loggerFactory.CreateLogger("Booking.AppHost"), _dashboard?.OtlpEndpoint);
        var starts = new Dictionary<Resource, Task>();

        Task StartOne(Resource resource)
        {
            if (!starts.TryGetValue(resource, out var task))
            {
                var dependencies = resource.WaitsFor.Select(StartOne).ToArray();
                task = Run(resource, dependencies);
                starts[resource] = task;
            }

            return task;
        }

        async Task Run(Resource resource, Task[] dependencies)
        {
            await Task.WhenAll(dependencies).ConfigureAwait(false);
            await resource.StartAsync(context, cancellationToken).ConfigureAwait(false);
            lock (_started)
            {
                _started.Add(resource);
            }

            context.Logger.LogInformation("{Resource} is healthy", resource.Name);
        }

        await Task.WhenAll(resources.Select(StartOne)).ConfigureAwait(false);
    }

    public async Task StopAsync()
    {
        Resource[] started;
        lock (_started)
        {
            started = [.. _started];
            _started.Clear();
        }

        var logger = _loggerFactory.CreateLogger("Booking.AppHost");
        foreach (var resource in started.Reverse())
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            await resource.StopAsync().ConfigureAwait(false);
            logger.LogInformation("{Resource} stopped in {Elapsed:0} ms", resource.Name, watch.Elapsed.TotalMilliseconds);
        }

        if (_dashboard is not null)
        {
            await _dashboard.DisposeAsync().ConfigureAwait(false);
            _dashboard = null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _loggerFactory.Dispose();
    }
}
