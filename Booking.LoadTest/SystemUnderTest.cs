using System.Net.Http.Json;
using System.Text.Json;
using Booking.AppHost;
using Booking.AppHost.Hosting;

namespace Booking.LoadTest;

/// <summary>
/// What the run drives: the whole system started through the AppHost (plus a second API with the naive hold
/// strategy and the ceiling server), or a running AppHost found through its dashboard.
/// </summary>
public sealed class SystemUnderTest : IAsyncDisposable
{
    private DistributedApplication? _app;

    public required Dictionary<string, string> Endpoints { get; init; }
    public required Dictionary<string, string> ConnectionStrings { get; init; }

    public static async Task<SystemUnderTest> StartAsync(LoadOptions options, CancellationToken cancellationToken)
    {
        if (options.Dashboard is { } dashboard)
        {
            using var http = new HttpClient { BaseAddress = new Uri(dashboard) };
            var resources = await http.GetFromJsonAsync<JsonElement[]>("/api/resources", cancellationToken).ConfigureAwait(false);
            return new SystemUnderTest
            {
                Endpoints = resources!.Where(r => r.GetProperty("type").GetString() == "project")
                    .ToDictionary(r => r.GetProperty("name").GetString()!, r => r.GetProperty("endpoints")[0].GetString()!),
                ConnectionStrings = resources!.Where(r => r.TryGetProperty("connectionString", out var c) && c.ValueKind == JsonValueKind.String)
                    .ToDictionary(r => r.GetProperty("name").GetString()!, r => r.GetProperty("connectionString").GetString()!),
            };
        }

        var root = AppHostCommandLine.FindRepositoryRoot();
        var builder = new DistributedApplicationBuilder(new AppHostOptions
        {
            DataDirectory = Path.Combine(root, ".data", "loadtest-" + DateTime.UtcNow.ToString("yyyyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture)),
            RepositoryRoot = root,
            // Telemetry stays on in the services unless asked otherwise; the dashboard is where a person watches the run.
            DashboardPort = options.NoDashboard ? null : 0,
        }).AddBookingSystem(freePorts: true);

        var redis = builder.Get<RedisResource>("redis");
        if (options.Modes.Contains("naive"))
        {
            // The "before" design, on the same build, Redis and database: a second API with the naive strategy.
            builder.AddProject("booking-api-naive", "Booking.Api")
                .WithReference(redis)
                .WithReference(builder.Get<DatabaseResource>("bookingdb"))
                .WithReference(builder.Get<ProjectResource>("performance-stub"))
                .WithEnvironment("Booking__HoldStrategy", "naive")
                .WaitFor(builder.Get<ProjectResource>("booking-api"));
        }

        if (options.Modes.Contains("ceiling"))
        {
            builder.AddProject("ceiling", "Booking.LoadTest").WithReference(redis).WithArgs("ceiling-server").WaitFor(redis);
        }

        var app = builder.Build();
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        Console.WriteLine(app.Dashboard is { } board ? $"System up; dashboard {board.Url}" : "System up; no dashboard (no telemetry export)");
        return new SystemUnderTest
        {
            _app = app,
            Endpoints = app.Resources.OfType<ProjectResource>().ToDictionary(r => r.Name, r => r.Url),
            ConnectionStrings = app.Resources.Where(r => r.ConnectionString is not null).ToDictionary(r => r.Name, r => r.ConnectionString!),
        };
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync().ConfigureAwait(false);
        }
    }
}
