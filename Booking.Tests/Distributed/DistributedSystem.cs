using System.Net.Http.Json;
using Booking.AppHost;
using Booking.AppHost.Hosting;
using Booking.Core;

namespace Booking.Tests.Distributed;

/// <summary>
/// Runs alone, after the parallel tests: its services are real processes and its dashboard shares this process's
/// thread pool, which the in-process tests would otherwise starve (and OTLP exports would time out).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DistributedCollection : ICollectionFixture<DistributedSystem>
{
    public const string Name = "Distributed system";
}

/// <summary>
/// The whole system started through the AppHost as a library, once per test collection (the Aspire testing
/// pattern): embedded Redis, PostgreSQL and Kafka, the three services as processes, and the dashboard.
/// </summary>
public sealed class DistributedSystem : IAsyncLifetime
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);
    private readonly string _data = Path.Combine(Path.GetTempPath(), "booking-tests", "system-" + Guid.NewGuid().ToString("N"));

    public DistributedApplication App { get; private set; } = null!;

    public TimeSpan StartedIn { get; private set; }

    public string DashboardUrl => App.Dashboard!.Url;

    public async ValueTask InitializeAsync()
    {
        var options = new AppHostOptions
        {
            DataDirectory = _data,
            RepositoryRoot = AppHostCommandLine.FindRepositoryRoot(),
            Durable = false,
            DashboardPort = 0,
        };
        App = new DistributedApplicationBuilder(options).AddBookingSystem(freePorts: true).Build();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        using var timeout = new CancellationTokenSource(StartTimeout);
        await App.StartAsync(timeout.Token);
        StartedIn = watch.Elapsed;
    }

    /// <summary>A client of a project resource by name; with a caller id for the booking API.</summary>
    public HttpClient Client(string resource, string? userId = null)
    {
        var client = new HttpClient { BaseAddress = new Uri(((ProjectResource)App[resource]).Url) };
        if (userId is not null)
        {
            client.DefaultRequestHeaders.Add("X-User-Id", userId);
        }

        return client;
    }

    public HttpClient Dashboard() => new() { BaseAddress = new Uri(DashboardUrl) };

    /// <summary>Creates a performance in the performance service and returns its id.</summary>
    public async Task<string> CreatePerformanceAsync(string title)
    {
        using var stub = Client("performance-stub");
        var response = await stub.PostAsJsonAsync("/performances", new
        {
            title,
            startsAt = DateTimeOffset.UtcNow.AddDays(7),
            sections = new[] { new { code = "A", rows = 5, seatsPerRow = 10 }, new { code = "B", rows = 5, seatsPerRow = 10 } },
        }, BookingJson.Options);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("id").GetString()!;
    }

    public async ValueTask DisposeAsync()
    {
        if (App is not null)
        {
            await App.DisposeAsync();
        }

        try
        {
            Directory.Delete(_data, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
