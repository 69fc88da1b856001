using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Booking.AppHost.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Booking.LoadTest;

/// <summary>
/// What the run drives: the real AppHost started through Aspire.Hosting.Testing (DCP runs every resource, the
/// Aspire dashboard receives all telemetry unless <c>--no-dashboard</c>), plus a second API with the naive hold
/// strategy and the ceiling server, on the same Redis, database and build. Durability stays on.
/// </summary>
public sealed class SystemUnderTest : IAsyncDisposable
{
    private static readonly string[] Services = ["performance-stub", "booking-api", "saga-worker"];
    /// <summary>For the whole start, every service healthy included: shorter than any caller's own limit (the smoke test's is 4 minutes), so a stall names its resource.</summary>
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(2);
    private DistributedApplication? _app;

    /// <summary>The run's Redis, PostgreSQL and secrets (a gigabyte or two): deleted when the run ends, results are in --out.</summary>
    private string? _data;

    /// <summary>The run's dashboard's own data directory (its telemetry store), under the run's data; none without a dashboard.</summary>
    public string? DashboardData { get; init; }

    public required Dictionary<string, string> Endpoints { get; init; }
    public required Dictionary<string, string> ConnectionStrings { get; init; }

    /// <summary>Tokens the system accepts: it was started with their signing key.</summary>
    public required LoadTokens Tokens { get; init; }

    public static async Task<SystemUnderTest> StartAsync(LoadOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var dashboard = $"http://127.0.0.1:{FreePort.Next()}";
        var tokens = new LoadTokens();
        var data = Path.Combine(Path.GetTempPath(), "booking-loadtest", DateTime.UtcNow.ToString("yyyyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture));
        var dashboardData = options.NoDashboard ? null : Path.Combine(data, "dashboard");
        Console.WriteLine($"Run data (deleted when the run ends, a stopped one too): {data}");
        // The dashboard, started by DCP, inherits this process's environment: its store goes with the run's data,
        // where DashboardStore counts it and the run's end deletes it, not among the user's own dashboard runs.
        Environment.SetEnvironmentVariable(DashboardStore.DataDirectorySetting, dashboardData);
        DistributedApplication? app = null;
        try
        {
            var builder = await CreateBuilderAsync(options, data, dashboard, tokens, cancellationToken).ConfigureAwait(false);
            // The dashboard asks who you are: its link with this run's browser token.
            var dashboardLogin = DashboardAccess.LoginUrl(builder.Configuration) ?? dashboard;
            var services = AddComparisons(builder, options);
            app = await builder.BuildAsync(cancellationToken).ConfigureAwait(false);
            await app.StartHealthyAsync(services, StartTimeout, cancellationToken).ConfigureAwait(false);

            Console.WriteLine(options.NoDashboard ? "System up; no dashboard (no telemetry export)" : $"System up; Aspire dashboard {dashboardLogin}");
            var connectionStrings = new Dictionary<string, string>();
            foreach (var name in new[] { "redis", "bookingdb", "performancedb", "kafka" })
            {
                connectionStrings[name] = (await app.GetConnectionStringAsync(name, cancellationToken).ConfigureAwait(false))!;
            }

            return new SystemUnderTest
            {
                _app = app,
                _data = data,
                DashboardData = dashboardData,
                Endpoints = services.ToDictionary(s => s, s => app.GetEndpoint(s, "http").ToString().TrimEnd('/')),
                ConnectionStrings = connectionStrings,
                Tokens = tokens,
            };
        }
        catch
        {
            // A start that failed or was stopped (Ctrl-C) leaves nothing behind either; its own error is the one to tell.
            try
            {
                await StopAsync(app, data).ConfigureAwait(false);
            }
            catch (Exception cleanup)
            {
                Console.Error.WriteLine($"Stopping the half-started system failed too: {cleanup.Message}");
            }

            throw;
        }
    }

    /// <summary>The real AppHost, on the run's own data directory and dashboard, signing with the tokens' key.</summary>
    private static Task<IDistributedApplicationTestingBuilder> CreateBuilderAsync(
        LoadOptions options, string data, string dashboard, LoadTokens tokens, CancellationToken cancellationToken) =>
        DistributedApplicationTestingBuilder.CreateAsync<Projects.Booking_AppHost>(
        [
            $"--AppHost:DataDirectory={data}",
            // Redis and PostgreSQL as DCP's executables on every machine: a container's processes are the container
            // runtime's children, where the cost meter (Costs.cs) cannot tell this run's from any other.
            "--AppHost:DataStores=Executable",
            $"--Parameters:auth-signing-key={tokens.SigningKey}",
            .. SideBySideRun.Arguments(dashboard),
        ], (settings, _) =>
        {
            settings.DisableDashboard = options.NoDashboard;
            // The services' logs belong in the dashboard, not between the progress lines.
            settings.EnableResourceLogging = false;
        }, cancellationToken);

    /// <summary>
    /// The product's services, with the per-user hold limit lifted for the bot users, plus what the modes compare
    /// against: a second API with the naive strategy, and the ceiling server. Returns the services to wait for.
    /// </summary>
    private static List<string> AddComparisons(IDistributedApplicationTestingBuilder builder, LoadOptions options)
    {
        var redis = builder.CreateResourceBuilder<IResourceWithConnectionString>("redis");
        // Virtual users are closed-loop bots, far past any person's hold rate: the per-user limiter stays in the
        // request path (its cost is measured) but does not refuse them. The test suite checks the limit itself.
        (string, string)[] unlimited = [("Booking__HoldsPerSecondPerUser", "1000000"), ("Booking__HoldBurstPerUser", "1000000")];
        var api = builder.CreateResourceBuilder<ProjectResource>("booking-api");
        foreach (var (name, value) in unlimited)
        {
            api.WithEnvironment(name, value);
        }
        var services = new List<string>(Services);
        if (options.Modes.Contains("naive"))
        {
            // The "before" design, on the same build, Redis and database: a second API with the naive strategy.
            var port = FreePort.Next();
            builder.AddBuiltService("booking-api-naive", "Booking.Api", port)
                .WithOtlpExporter()
                .WithEnvironment("Booking__Auth__SigningKey", builder.CreateResourceBuilder<ParameterResource>("auth-signing-key"))
                .WithReference(redis)
                .WithReference(builder.CreateResourceBuilder<IResourceWithConnectionString>("bookingdb"))
                .WithReference(builder.CreateResourceBuilder<ProjectResource>("performance-stub"))
                .WithEnvironment("Booking__HoldStrategy", "naive")
                .WithEnvironment(unlimited[0].Item1, unlimited[0].Item2)
                .WithEnvironment(unlimited[1].Item1, unlimited[1].Item2)
                .WaitFor(builder.CreateResourceBuilder<ProjectResource>("booking-api"));
            services.Add("booking-api-naive");
        }

        if (options.Modes.Contains("ceiling"))
        {
            var port = FreePort.Next();
            // The ceiling is this tool's program, a console app, whose default is workstation GC; it runs with the
            // services' Server GC (the Web SDK's default) so the ratio to it compares the work, not the collector. It
            // keeps the tool's thread pool without spinning (runtimeconfig, which the environment cannot undo); the
            // services without it measured the same (docs/benchmark/NOTES.md, "tried and not adopted" (3)).
            builder.AddBuiltService("ceiling", "Booking.LoadTest", port)
                .WithArgs("ceiling-server")
                .WithEnvironment("DOTNET_gcServer", "1")
                .WithReference(redis)
                .WaitFor(redis);
            services.Add("ceiling");
        }

        foreach (var service in services.Where(s => s != "ceiling"))
        {
            var resource = builder.Resources.Single(r => r.Name == service);
            resource.Annotations.Add(new EnvironmentCallbackAnnotation(context => context.EnvironmentVariables["DOTNET_ENVIRONMENT"] = options.Environment));
        }

        return services;
    }

    public ValueTask DisposeAsync() => StopAsync(_app, _data);

    /// <summary>Stops what DCP started and deletes the run's data, the latter even when stopping fails.</summary>
    private static async ValueTask StopAsync(DistributedApplication? app, string? data)
    {
        try
        {
            if (app is not null)
            {
                try
                {
                    await app.StopAsync().ConfigureAwait(false);
                }
                finally
                {
                    await app.DisposeAsync().ConfigureAwait(false);
                }
            }
        }
        finally
        {
            DeleteData(data);
        }
    }

    private static void DeleteData(string? data)
    {
        if (data is not null && Directory.Exists(data))
        {
            try
            {
                Directory.Delete(data, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"Could not delete the run's data directory {data}: {e.Message}");
            }
        }
    }
}

internal static class BuiltServiceExtensions
{
    /// <summary>
    /// A service run from its existing build output (same configuration as the load tool), not through
    /// <c>dotnet run</c>, which would build it again while the run is under way.
    /// </summary>
    public static IResourceBuilder<ExecutableResource> AddBuiltService(this IDistributedApplicationTestingBuilder builder, string name, string project, int port)
    {
        var output = AppContext.BaseDirectory.Replace($"{Path.DirectorySeparatorChar}Booking.LoadTest{Path.DirectorySeparatorChar}", $"{Path.DirectorySeparatorChar}{project}{Path.DirectorySeparatorChar}", StringComparison.Ordinal);
        var assembly = Path.Combine(output, $"{project}.dll");
        if (!File.Exists(assembly))
        {
            throw new FileNotFoundException($"{assembly} is missing: build the solution first (dotnet build Booking.slnx -c Release).");
        }

        var url = $"http://127.0.0.1:{port}";
        return builder.AddExecutable(name, "dotnet", output, assembly)
            .WithHttpEndpoint(port: port, targetPort: port, isProxied: false)
            .WithEnvironment("ASPNETCORE_URLS", url)
            .WithHttpHealthCheck("/health");
    }
}
