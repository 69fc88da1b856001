namespace Booking.AppHost.Hosting;

public enum ResourceState
{
    NotStarted,
    Waiting,
    Starting,
    Running,
    Restarting,
    Exited,
    FailedToStart,
    Stopped,
}

/// <summary>One thing the AppHost runs (a server or a service), with what it waits for and how others reach it.</summary>
public abstract class Resource(string name)
{
    private readonly List<Resource> _waitFor = [];

    public string Name { get; } = name;

    public abstract string Type { get; }

    public ResourceState State { get; protected set; } = ResourceState.NotStarted;

    public bool Healthy { get; protected set; }

    public int Restarts { get; protected set; }

    public IReadOnlyList<Resource> WaitsFor => _waitFor;

    /// <summary>URLs a person can open (services) or addresses clients connect to (servers).</summary>
    public virtual IReadOnlyList<string> Endpoints => [];

    /// <summary>What <c>ConnectionStrings__{Name}</c> is for those that reference this resource; null for none.</summary>
    public virtual string? ConnectionString => null;

    /// <summary>The last lines of the resource's console output.</summary>
    public virtual IReadOnlyList<string> ConsoleOutput => [];

    internal void AddWaitFor(Resource resource) => _waitFor.Add(resource);

    /// <summary>Starts the resource and returns once it is healthy.</summary>
    public abstract Task StartAsync(AppHostContext context, CancellationToken cancellationToken);

    public abstract Task StopAsync();
}

/// <summary>What resources share while the AppHost runs: where data lives, and the log.</summary>
public sealed class AppHostContext(string dataDirectory, string repositoryRoot, ILogger logger, string? otlpEndpoint)
{
    public string DataDirectory { get; } = dataDirectory;

    public string RepositoryRoot { get; } = repositoryRoot;

    public ILogger Logger { get; } = logger;

    /// <summary>Where services send OTLP telemetry; null when there is no collector.</summary>
    public string? OtlpEndpoint { get; } = otlpEndpoint;
}
