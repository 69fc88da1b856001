using System.Globalization;

namespace Booking.AppHost.Hosting;

/// <summary>
/// A .NET service of this solution run as a child process with the Aspire-convention environment:
/// <c>ConnectionStrings__*</c>, <c>services__*__http__0</c>, <c>OTEL_*</c>. Healthy once <c>/health</c> answers 200.
/// A crash is shown as such and the service is restarted, at most <see cref="MaxRestarts"/> times.
/// </summary>
public sealed class ProjectResource(string name, string projectDirectory, int port) : Resource(name)
{
    public const int MaxRestarts = 3;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(2) };

    private readonly List<Resource> _references = [];
    private readonly Dictionary<string, string?> _environment = new(StringComparer.Ordinal);
    private ChildProcess? _process;
    private AppHostContext? _context;
    private CancellationTokenSource? _lifetime;

    public override string Type => "project";

    public int Port { get; } = port;

    public string Url => $"http://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    public override IReadOnlyList<string> Endpoints => [Url];

    public override IReadOnlyList<string> ConsoleOutput => _process?.Output ?? [];

    /// <summary>The process, for tests that kill it as a crash would.</summary>
    public ChildProcess? Process => _process;

    internal List<string> Arguments { get; } = [];

    internal void AddReference(Resource resource) => _references.Add(resource);

    internal void SetEnvironment(string key, string? value) => _environment[key] = value;

    public override async Task StartAsync(AppHostContext context, CancellationToken cancellationToken)
    {
        _context = context;
        _lifetime = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        await LaunchAsync(cancellationToken).ConfigureAwait(false);
        _ = WatchAsync(_lifetime.Token);
    }

    private async Task LaunchAsync(CancellationToken cancellationToken)
    {
        var context = _context!;
        var project = Path.GetFileName(projectDirectory);
        var assembly = Path.Combine(context.RepositoryRoot, projectDirectory, "bin", BuildConfiguration, "net10.0", project + ".dll");
        if (!File.Exists(assembly))
        {
            State = ResourceState.FailedToStart;
            throw new FileNotFoundException($"{Name}: {assembly} is missing; build the solution first (dotnet build Booking.slnx -c {BuildConfiguration}).", assembly);
        }

        var environment = new Dictionary<string, string?>(_environment, StringComparer.Ordinal)
        {
            ["ASPNETCORE_URLS"] = Url,
            ["ASPNETCORE_ENVIRONMENT"] = Environment.GetEnvironmentVariable("ASPNETCORE_ENVIRONMENT") ?? "Development",
            ["OTEL_SERVICE_NAME"] = Name,
            ["OTEL_RESOURCE_ATTRIBUTES"] = $"service.instance.id={Name}-{Guid.NewGuid():N}",
            ["DOTNET_gcServer"] = "0",
        };
        if (context.OtlpEndpoint is not null)
        {
            environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = context.OtlpEndpoint;
            environment["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf";
            // Seconds, not the exporters' defaults (5 s batches, 60 s metrics): the dashboard is for watching live.
            environment["OTEL_BSP_SCHEDULE_DELAY"] = "1000";
            environment["OTEL_BLRP_SCHEDULE_DELAY"] = "1000";
            environment["OTEL_METRIC_EXPORT_INTERVAL"] = "5000";
            environment["OTEL_EXPORTER_OTLP_TIMEOUT"] = "30000";
        }

        foreach (var reference in _references)
        {
            if (reference is ProjectResource service)
            {
                environment[$"services__{service.Name}__http__0"] = service.Url;
            }
            else
            {
                environment[$"ConnectionStrings__{reference.Name}"] = reference.ConnectionString;
            }
        }

        State = ResourceState.Starting;
        Healthy = false;
        _process = ChildProcess.Start(Name, "dotnet", [assembly, .. Arguments], environment, workingDirectory: Path.Combine(context.RepositoryRoot, projectDirectory));
        await WaitUntilHealthyAsync(cancellationToken).ConfigureAwait(false);
        State = ResourceState.Running;
        Healthy = true;
    }

    private async Task WaitUntilHealthyAsync(CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + StartTimeout;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_process!.HasExited)
            {
                State = ResourceState.FailedToStart;
                throw new InvalidOperationException($"{Name} exited with {_process.ExitCode} while starting:\n{string.Join('\n', _process.Output.TakeLast(40))}");
            }

            if (await IsHealthyAsync(cancellationToken).ConfigureAwait(false))
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                State = ResourceState.FailedToStart;
                throw new TimeoutException($"{Name} did not become healthy within {StartTimeout.TotalSeconds:0} s:\n{string.Join('\n', _process.Output.TakeLast(40))}");
            }

            await Task.Delay(200, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<bool> IsHealthyAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var response = await Http.GetAsync($"{Url}/health", cancellationToken).ConfigureAwait(false);
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>Keeps health current and restarts a crashed service, up to the limit.</summary>
    private async Task WatchAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(1000, cancellationToken).ConfigureAwait(false);
                if (_process is { HasExited: true } crashed)
                {
                    State = ResourceState.Exited;
                    Healthy = false;
                    _context!.Logger.LogWarning("{Resource} exited with code {ExitCode}", Name, crashed.ExitCode);
                    if (Restarts >= MaxRestarts)
                    {
                        _context.Logger.LogError("{Resource} crashed {Restarts} times; not restarting it again", Name, Restarts);
                        return;
                    }

                    Restarts++;
                    State = ResourceState.Restarting;
                    await crashed.DisposeAsync().ConfigureAwait(false);
                    await LaunchAsync(cancellationToken).ConfigureAwait(false);
                    _context.Logger.LogInformation("{Resource} restarted ({Restarts}/{MaxRestarts})", Name, Restarts, MaxRestarts);
                }
                else
                {
                    Healthy = await IsHealthyAsync(cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception exception) when (exception is InvalidOperationException or TimeoutException)
            {
                _context!.Logger.LogError(exception, "{Resource} could not be restarted", Name);
            }
        }
    }

    public override async Task StopAsync()
    {
        if (_lifetime is not null)
        {
            await _lifetime.CancelAsync().ConfigureAwait(false);
        }

        if (_process is not null)
        {
            await _process.StopAsync(TimeSpan.FromSeconds(15)).ConfigureAwait(false);
            await _process.DisposeAsync().ConfigureAwait(false);
        }

        State = ResourceState.Stopped;
        Healthy = false;
        _lifetime?.Dispose();
    }

    /// <summary>The configuration the AppHost itself was built in; services are built alongside it.</summary>
    internal static string BuildConfiguration =>
#if DEBUG
        "Debug";
#else
        "Release";
#endif
}
