using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Booking.AppHost.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Booking.Tests.Hosting;

/// <summary>What tests and the load tool rely on to start whole systems: free ports, and a start that says why it failed.</summary>
public sealed class StartupHelpersTests
{
    [Fact]
    public void Ports_are_free_below_the_range_outgoing_connections_use_and_never_handed_out_twice()
    {
        var ephemeralStart = int.Parse(File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split('\t', ' ')[0], CultureInfo.InvariantCulture);

        var ports = Enumerable.Range(0, 300).Select(_ => FreePort.Next()).ToList();

        Assert.Equal(ports.Count, ports.Distinct().Count());
        Assert.All(ports, port => Assert.InRange(port, 1_024, ephemeralStart - 1));
        using var listener = new TcpListener(IPAddress.Loopback, ports[^1]);
        listener.Start();
    }

    [Theory]
    [InlineData("ASPIRE_DASHBOARD_UNSECURED_ALLOW_ANONYMOUS", "ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL")]
    [InlineData("DOTNET_DASHBOARD_UNSECURED_ALLOW_ANONYMOUS", "DOTNET_RESOURCE_SERVICE_ENDPOINT_URL")]
    [InlineData("ASPIRE_DASHBOARD_UNSECURED_ALLOW_ANONYMOUS", "DOTNET_DASHBOARD_OTLP_ENDPOINT_URL")]
    public void An_anonymous_dashboard_refuses_any_endpoint_off_loopback_under_either_name(string anonymous, string endpoint)
    {
        IConfiguration Settings(string url) => new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            [anonymous] = "true",
            ["ASPNETCORE_URLS"] = "http://127.0.0.1:18888",
            [endpoint] = url,
        }).Build();

        DashboardAccess.RequireLoopbackForAnonymous(Settings("http://127.0.0.1:18890"));
        Assert.Contains("0.0.0.0",
            Assert.Throws<InvalidOperationException>(() => DashboardAccess.RequireLoopbackForAnonymous(Settings("http://0.0.0.0:18890"))).Message,
            StringComparison.Ordinal);
    }

    [Fact]
    public void The_f5_dashboard_is_not_anonymous_and_the_printed_link_logs_in_with_the_runs_browser_token()
    {
        var profile = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(BuiltProjects.Root, "Booking.AppHost", "Properties", "launchSettings.json")));
        var environment = profile.RootElement.GetProperty("profiles").EnumerateObject().Single().Value.GetProperty("environmentVariables");
        IConfiguration Settings(params (string Key, string Value)[] settings) => new ConfigurationBuilder()
            .AddInMemoryCollection(environment.EnumerateObject().Select(e => new KeyValuePair<string, string?>(e.Name, e.Value.GetString()))
                .Append(new("ASPNETCORE_URLS", "http://127.0.0.1:18888"))
                .Concat(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)))).Build();

        Assert.False(DashboardAccess.IsAnonymous(Settings()));
        Assert.Equal("http://127.0.0.1:18888/login?t=f00d", DashboardAccess.LoginUrl(Settings(("AppHost:BrowserToken", "f00d"))));
        Assert.Equal("beef", DashboardAccess.TelemetryApiKey(Settings(("AppHost:DashboardApiKey", "beef"))));
        // Anonymous (turned on by hand) there is nothing to log in with.
        var anonymous = Settings(("AppHost:BrowserToken", "f00d"), ("AppHost:DashboardApiKey", "beef"), ("ASPIRE_DASHBOARD_UNSECURED_ALLOW_ANONYMOUS", "true"));
        Assert.Equal("http://127.0.0.1:18888", DashboardAccess.LoginUrl(anonymous));
        Assert.Null(DashboardAccess.TelemetryApiKey(anonymous));
    }

    [Fact]
    public async Task A_store_starts_only_once_the_server_of_an_earlier_run_is_gone_and_a_stale_pid_file_does_not_hold_it()
    {
        var ct = TestContext.Current.CancellationToken;
        using var directory = new TestDirectory("previous-server");
        Directory.CreateDirectory(directory.Path);
        var pidFile = Path.Combine(directory.Path, "server.pid");
        // "sleep" stands for the server of a run whose AppHost was killed: still running on the data directory.
        using var previous = Process.Start("sleep", "60");
        await File.WriteAllTextAsync(pidFile, $"{previous.Id}\n", ct);

        var waiting = ProcessRunner.WaitForPreviousServerAsync(pidFile, "sleep", "Test", ct);
        await Task.Delay(500, ct);
        Assert.False(waiting.IsCompleted);
        previous.Kill();
        await previous.WaitForExitAsync(ct);
        await waiting.WaitAsync(TimeSpan.FromSeconds(10), ct);

        // Its file left behind (killed, not stopped) names a process that is gone, or another program's: no wait.
        await ProcessRunner.WaitForPreviousServerAsync(pidFile, "sleep", "Test", ct).WaitAsync(TimeSpan.FromSeconds(1), ct);
        await File.WriteAllTextAsync(pidFile, $"{Environment.ProcessId}\n", ct);
        await ProcessRunner.WaitForPreviousServerAsync(pidFile, "sleep", "Test", ct).WaitAsync(TimeSpan.FromSeconds(1), ct);
    }

    [Fact]
    public async Task A_service_that_exits_during_start_up_ends_the_wait_with_its_name_and_its_last_words()
    {
        var builder = TestAppHost.CreateBuilder();
        // Like a service: healthy only once it answers, which this one never does.
        builder.Services.AddHealthChecks().AddCheck("quitter-answers", () => HealthCheckResult.Unhealthy());
        builder.AddExecutable("quitter", "sh", ".", "-c", "echo 'fail: the quitter cannot start'; exit 3").WithHealthCheck("quitter-answers");
        await using var app = builder.Build();

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => app.StartHealthyAsync(["quitter"], TimeSpan.FromMinutes(2), TestContext.Current.CancellationToken));

        Assert.StartsWith("quitter stopped during start-up", failure.Message, StringComparison.Ordinal);
        Assert.Contains("the quitter cannot start", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_the_stores_programs_installed_the_AppHost_stops_at_once_naming_them_and_the_set_up_script()
    {
        var ct = TestContext.Current.CancellationToken;
        var data = Directory.CreateTempSubdirectory("booking-no-programs-");
        var nothingInstalled = Directory.CreateTempSubdirectory("booking-empty-path-");
        try
        {
            // A fresh machine before scripts/setup.sh, as far as the PATH shows: no redis-server. Otherwise as F5 runs it.
            var (exitCode, output, error) = await AppHostProcess.RunToExitAsync(
                [$"--AppHost:DataDirectory={data.FullName}", "--AppHost:DataStores=Executable", .. SideBySideRun.Arguments($"http://127.0.0.1:{FreePort.Next()}")],
                new Dictionary<string, string>
                {
                    ["PATH"] = nothingInstalled.FullName,
                    ["ASPIRE_ALLOW_UNSECURED_TRANSPORT"] = "true",
                    ["ASPIRE_DASHBOARD_UNSECURED_ALLOW_ANONYMOUS"] = "true",
                },
                ct);

            Assert.True(exitCode == 1, $"Exit code {exitCode}:\n{output}\n{error}");
            Assert.Contains("this machine lacks redis-server", error, StringComparison.Ordinal);
            Assert.Contains("Run scripts/setup.sh", error, StringComparison.Ordinal);
        }
        finally
        {
            data.Delete(recursive: true);
            nothingInstalled.Delete();
        }
    }

    [Fact]
    public async Task The_AppHost_says_at_once_which_process_stopped_during_start_up_and_why_and_keeps_running()
    {
        var builder = TestAppHost.CreateBuilder();
        builder.Services.AddFakeLogging();
        builder.Services.AddHostedService<ResourceSummary>();
        builder.Services.AddHealthChecks().AddCheck("quitter-answers", () => HealthCheckResult.Unhealthy());
        builder.AddExecutable("quitter", "sh", ".", "-c", "echo 'fail: the quitter cannot start'; exit 3").WithHealthCheck("quitter-answers");
        await using var app = builder.Build();
        var logs = app.Services.GetFakeLogCollector();

        await app.StartAsync(TestContext.Current.CancellationToken);

        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!logs.GetSnapshot().Any(r => r.Category == typeof(ResourceSummary).FullName && r.Level == LogLevel.Error))
        {
            Assert.True(DateTime.UtcNow < deadline, "The AppHost said nothing of the process that stopped during start-up in 60 s.");
            await Task.Delay(200, TestContext.Current.CancellationToken);
        }

        // Said once, however many notifications the stopped process gets; the AppHost still runs.
        await Task.Delay(TimeSpan.FromSeconds(3), TestContext.Current.CancellationToken);
        var said = Assert.Single(logs.GetSnapshot(), r => r.Category == typeof(ResourceSummary).FullName && r.Level == LogLevel.Error);
        Assert.StartsWith("quitter stopped during start-up (", said.Message, StringComparison.Ordinal);
        Assert.Contains("exit code 3)", said.Message, StringComparison.Ordinal);
        Assert.Contains("the quitter cannot start", said.Message, StringComparison.Ordinal);
        Assert.False(app.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.IsCancellationRequested);
    }

    [Fact]
    public async Task A_ctrl_c_during_the_start_is_not_reported_as_a_process_that_stopped()
    {
        const string Sleeper = "sleep 301.25";
        var builder = TestAppHost.CreateBuilder();
        builder.Services.AddFakeLogging();
        builder.Services.AddHostedService<ResourceSummary>();
        builder.Services.AddHealthChecks().AddCheck("sleeper-answers", () => HealthCheckResult.Unhealthy());
        builder.AddExecutable("sleeper", "sh", ".", "-c", Sleeper).WithHealthCheck("sleeper-answers");
        await using var app = builder.Build();
        var logs = app.Services.GetFakeLogCollector();
        // A Ctrl+C reaches every process of the terminal at once: the AppHost begins to stop while its processes die of
        // the same signal, before it stops its hosted services. Registered before the summary watches, this runs after
        // the summary's own reaction to the stop, and plays the processes' part.
        app.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.Register(() =>
        {
            using var kill = Process.Start("pkill", ["-INT", "-f", Sleeper])!;
            kill.WaitForExit();
            using var dead = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            app.ResourceNotifications.WaitForResourceAsync("sleeper", KnownResourceStates.TerminalStates, dead.Token).GetAwaiter().GetResult();
            // The summary's turn to take the stop for a failure: its report reads the process's log for 2 s and more.
            Thread.Sleep(TimeSpan.FromSeconds(5));
        });
        await app.StartAsync(TestContext.Current.CancellationToken);
        await app.ResourceNotifications.WaitForResourceAsync("sleeper", KnownResourceStates.Running, TestContext.Current.CancellationToken);

        await app.StopAsync(TestContext.Current.CancellationToken);

        var reported = logs.GetSnapshot().Where(r => r.Category == typeof(ResourceSummary).FullName && r.Level >= LogLevel.Warning).Select(r => r.Message).ToList();
        Assert.True(reported.Count == 0, $"The stop was reported: {string.Join(Environment.NewLine, reported)}");
    }
}
