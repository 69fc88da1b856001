using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Booking.AppHost.Hosting;
using Booking.Core;

namespace Booking.Tests.Distributed;

/// <summary>
/// Runs alone, after the parallel tests: its services are real processes, and the worker-crash test kills one.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DistributedRun : ICollectionFixture<DistributedSystem>
{
    public const string Name = "Distributed system";
}

/// <summary>
/// The whole system through the real AppHost and Aspire.Hosting.Testing, once per collection (the Aspire
/// template's pattern): DCP runs Redis, PostgreSQL and the three services as processes, the Kafka mock cluster
/// lives in this process (it hosts the AppHost), and the Aspire dashboard receives every service's telemetry.
/// </summary>
public sealed class DistributedSystem : IAsyncLifetime
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);
    private readonly TestDirectory _data = new("system");
    private string? _dashboardApiKey;

    public DistributedApplication App { get; private set; } = null!;

    public TimeSpan StartedIn { get; private set; }

    public string DashboardUrl { get; } = $"http://127.0.0.1:{FreePort.Next()}";

    public static readonly string[] Services = ["performance-stub", "booking-api", "saga-worker"];

    public async ValueTask InitializeAsync()
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        using var timeout = new CancellationTokenSource(StartTimeout);
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Booking_AppHost>(
        [
            $"--AppHost:DataDirectory={_data.Path}",
            "--AppHost:DataStores=Executable",
            "--AppHost:Durable=false",
            "--AppHost:Chaos=true",
            $"--Parameters:auth-signing-key={TestTokens.SigningKey}",
            .. SideBySideRun.Arguments(DashboardUrl),
        ], (options, _) => options.DisableDashboard = false, timeout.Token);
        // The dashboard is not anonymous (the launch profile's settings hold here too): a browser logs in with the
        // run's token, the telemetry API takes its key.
        DashboardLoginUrl = DashboardAccess.LoginUrl(builder.Configuration) ?? DashboardUrl;
        _dashboardApiKey = DashboardAccess.TelemetryApiKey(builder.Configuration);

        // Quick resumption, so the worker-crash test sees every saga finish soon after the restart.
        foreach (var service in new[] { "booking-api", "saga-worker" })
        {
            builder.CreateResourceBuilder<ProjectResource>(service)
                .WithEnvironment("Booking__SagaResumeAfter", "00:00:02")
                .WithEnvironment("Saga__SweepInterval", "00:00:00.200");
        }

        App = await builder.BuildAsync(timeout.Token);
        await App.StartHealthyAsync(Services, StartTimeout - watch.Elapsed, CancellationToken.None);

        StartedIn = watch.Elapsed;
    }

    /// <summary>A client of a service's HTTP endpoint acting as <paramref name="userId"/> (an admin when null).</summary>
    public HttpClient Client(string resource, string? userId = null)
    {
        var client = new HttpClient { BaseAddress = App.GetEndpoint(resource, "http") };
        client.DefaultRequestHeaders.Authorization = userId is null ? TestTokens.Admin : TestTokens.Bearer(userId);
        return client;
    }

    /// <summary>The dashboard's login link, with this run's browser token.</summary>
    public string DashboardLoginUrl { get; private set; } = null!;

    /// <summary>A client of the dashboard's telemetry API, with this run's key.</summary>
    public HttpClient Dashboard()
    {
        var client = new HttpClient { BaseAddress = new Uri(DashboardUrl) };
        if (_dashboardApiKey is not null)
        {
            client.DefaultRequestHeaders.Add("x-api-key", _dashboardApiKey);
        }

        return client;
    }

    /// <summary>Creates a performance in the performance service and returns its id.</summary>
    public async Task<string> CreatePerformanceAsync(string title, int rows = 5, int seatsPerRow = 10)
    {
        using var stub = Client("performance-stub");
        var response = await stub.PostAsJsonAsync("/performances", new
        {
            title,
            startsAt = DateTimeOffset.UtcNow.AddDays(7),
            sections = new[] { new { code = "A", rows, seatsPerRow }, new { code = "B", rows, seatsPerRow } },
        }, BookingJson.Options);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("id").GetString()!;
    }

    public async ValueTask DisposeAsync()
    {
        if (App is not null)
        {
            await App.StopAsync();
            await App.DisposeAsync();
        }

        _data.Dispose();
    }
}
