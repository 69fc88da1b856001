using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Booking.AppHost.Hosting;

/// <summary>
/// Once every service is healthy, one line per resource with the address to reach it (Kafka's bootstrap servers
/// for kcat, the servers' loopback ports for redis-cli and psql), then the dashboard's URL. Until then, whoever
/// started the AppHost is told what it still waits for, every <see cref="ProgressInterval"/>, and at once of a process
/// that stopped, with its last words: nothing that waits for it starts, and the AppHost keeps running, so it can be
/// mended and started again from the dashboard.
/// </summary>
public sealed partial class ResourceSummary(
    DistributedApplicationModel model,
    DistributedApplicationExecutionContext execution,
    DistributedApplicationOptions options,
    ResourceNotificationService notifications,
    IServiceProvider services,
    IHostApplicationLifetime lifetime,
    IConfiguration configuration,
    ILogger<ResourceSummary> logger) : BackgroundService
{
    /// <summary>How often a start that takes long says what it still waits for.</summary>
    public static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(30);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!execution.IsRunMode)
        {
            return;
        }

        var started = DateTime.UtcNow;
        // The processes started with the app (not those started on demand, such as Aspire's hidden rebuilders of
        // projects): the services wait for everything they use, so their health stands for the whole system's.
        var awaited = model.Resources
            .Where(r => r is ProjectResource or ExecutableResource && !r.HasAnnotationOfType<ExplicitStartupAnnotation>())
            .Select(r => r.Name)
            .ToList();
        // Processes stopped by a Ctrl+C during the start are not reported.
        using (var starting = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, lifetime.ApplicationStopping))
        {
            var watching = Task.WhenAll(ReportStopsAsync(awaited, starting.Token), ReportProgressAsync(awaited, starting.Token));
            try
            {
                foreach (var name in awaited)
                {
                    // Through a stop and a start again from the dashboard.
                    await notifications.WaitForResourceHealthyAsync(name, WaitBehavior.WaitOnResourceUnavailable, starting.Token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (starting.IsCancellationRequested)
            {
                return;
            }
            finally
            {
                // Not waited for: a report under way reads a process's log for a few seconds.
                await starting.CancelAsync().ConfigureAwait(false);
                _ = watching.ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }

        var lines = new List<string> { string.Empty, $"All resources healthy in {(DateTime.UtcNow - started).TotalSeconds:0.0} s:" };
        foreach (var resource in model.Resources.Where(r => r is ProjectResource or IResourceWithConnectionString))
        {
            lines.Add($"  {resource.Name,-18} {Target(resource)}");
        }

        if (!options.DisableDashboard && DashboardAccess.LoginUrl(configuration) is { } login)
        {
            lines.Add($"Dashboard: {login}");
            if (DashboardAccess.TelemetryApiKey(configuration) is { } key)
            {
                lines.Add($"Dashboard telemetry API key (header x-api-key): {key}");
            }
        }

        if (services.GetService<AppHostSettings>() is { } settings)
        {
            lines.Add($"Data (executable Redis and PostgreSQL, generated passwords): {settings.DataDirectory}");
        }

        lines.Add("Press Ctrl+C to stop everything.");
        await Console.Out.WriteLineAsync(string.Join(Environment.NewLine, lines)).ConfigureAwait(false);
    }

    private string? Dashboard => options.DisableDashboard ? null : DashboardAccess.DashboardUrl(configuration);

    /// <summary>Each process that stops before the system is up, once per stop (a start again from the dashboard may fail again).</summary>
    private async Task ReportStopsAsync(List<string> awaited, CancellationToken cancellationToken)
    {
        var stopped = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var e in notifications.WatchAsync(cancellationToken).ConfigureAwait(false))
        {
            var state = e.Snapshot.State?.Text;
            if (!awaited.Contains(e.Resource.Name))
            {
                continue;
            }

            if (!KnownResourceStates.TerminalStates.Contains(state))
            {
                stopped.Remove(e.Resource.Name);
                continue;
            }

            if (stopped.Add(e.Resource.Name) && !cancellationToken.IsCancellationRequested)
            {
                var reason = await HealthyStart.StopReasonAsync(services, e.Resource).ConfigureAwait(false);
                LogStopped(e.Resource.Name, state!, e.Snapshot.ExitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none",
                    Dashboard ?? "the dashboard", reason);
            }
        }
    }

    private async Task ReportProgressAsync(List<string> awaited, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(ProgressInterval);
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            var waiting = string.Join(", ", awaited.Select(Unhealthy).OfType<string>());
            LogWaiting(waiting);
        }
    }

    /// <summary>A process not healthy yet, with its state; null for a healthy one.</summary>
    private string? Unhealthy(string name) => notifications.TryGetCurrentState(name, out var e)
        ? e.Snapshot.HealthStatus == Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy ? null : $"{name} ({e.Snapshot.State?.Text})"
        : $"{name} (not started)";

    private static string Target(IResource resource) => resource switch
    {
        KafkaMockResource kafka => kafka.Cluster?.BootstrapServers ?? "(stopped)",
        PostgresExecutableDatabaseResource database => $"{Endpoint(database.Parent)}/{database.DatabaseName}",
        IResourceWithEndpoints withEndpoints => Endpoint(withEndpoints),
        _ => "(connection string)",
    };

    private static string Endpoint(IResourceWithEndpoints resource) =>
        resource.TryGetEndpoints(out var endpoints) && endpoints.FirstOrDefault()?.AllocatedEndpoint is { } allocated
            ? allocated.UriString
            : string.Empty;

    [LoggerMessage(Level = LogLevel.Error, Message = "{Resource} stopped during start-up ({State}, exit code {ExitCode}); nothing that waits for it starts. Mend it and start it again from {Dashboard}, or stop the AppHost.{Reason}")]
    private partial void LogStopped(string resource, string state, string exitCode, string dashboard, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Starting; not healthy yet: {Waiting}")]
    private partial void LogWaiting(string waiting);
}
