using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

namespace Booking.AppHost.Hosting;

/// <summary>
/// Once every service is healthy, one line per resource with the address to reach it (Kafka's bootstrap servers
/// for kcat, the servers' loopback ports for redis-cli and psql), then the dashboard's URL.
/// </summary>
internal sealed class ResourceSummary(
    DistributedApplicationModel model,
    DistributedApplicationExecutionContext execution,
    DistributedApplicationOptions options,
    ResourceNotificationService notifications,
    IConfiguration configuration) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!execution.IsRunMode)
        {
            return;
        }

        var started = DateTime.UtcNow;
        // The services wait for everything they use, so their health stands for the whole system's.
        foreach (var project in model.Resources.OfType<ProjectResource>())
        {
            await notifications.WaitForResourceHealthyAsync(project.Name, stoppingToken).ConfigureAwait(false);
        }

        var lines = new List<string> { string.Empty, $"All resources healthy in {(DateTime.UtcNow - started).TotalSeconds:0.0} s:" };
        foreach (var resource in model.Resources.Where(r => r is ProjectResource or IResourceWithConnectionString))
        {
            lines.Add($"  {resource.Name,-18} {Target(resource)}");
        }

        if (!options.DisableDashboard && DashboardAccess.DashboardUrl(configuration) is { } dashboard)
        {
            lines.Add($"Dashboard: {dashboard}");
        }

        lines.Add("Press Ctrl+C to stop everything.");
        await Console.Out.WriteLineAsync(string.Join(Environment.NewLine, lines)).ConfigureAwait(false);
    }

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
}
