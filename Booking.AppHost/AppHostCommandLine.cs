using System.Diagnostics;
using Booking.AppHost.Hosting;
using Microsoft.Extensions.Configuration;

namespace Booking.AppHost;

/// <summary>The <c>dotnet run --project Booking.AppHost</c> experience: flags, a resource table, Ctrl+C to stop.</summary>
public static class AppHostCommandLine
{
    public static AppHostOptions Parse(string[] args)
    {
        var root = FindRepositoryRoot();
        var fresh = args.Contains("--fresh");
        var configuration = new ConfigurationBuilder()
            .AddEnvironmentVariables()
            .AddCommandLine(args.Where(a => a != "--fresh").ToArray())
            .Build();
        var dataDirectory = Path.GetFullPath(configuration["data-dir"] ?? Path.Combine(root, ".data"));
        if (fresh && Directory.Exists(dataDirectory))
        {
            Console.WriteLine($"--fresh: removing {dataDirectory}");
            Directory.Delete(dataDirectory, recursive: true);
        }

        var dashboardPort = configuration["dashboard-port"] is { } p ? int.Parse(p, System.Globalization.CultureInfo.InvariantCulture) : 18888;
        return new AppHostOptions { DataDirectory = dataDirectory, RepositoryRoot = root, Configuration = configuration, DashboardPort = dashboardPort };
    }

    public static async Task<int> RunAsync(DistributedApplication app, AppHostOptions options)
    {
        ArgumentNullException.ThrowIfNull(app);
        using var stopping = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stopping.Cancel();
        };
        using var terminate = System.Runtime.InteropServices.PosixSignalRegistration.Create(
            System.Runtime.InteropServices.PosixSignal.SIGTERM, context =>
            {
                context.Cancel = true;
                stopping.Cancel();
            });

        var started = Stopwatch.StartNew();
        try
        {
            await app.StartAsync(stopping.Token).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            await Console.Error.WriteLineAsync($"Start-up failed: {exception.Message}").ConfigureAwait(false);
            await app.StopAsync().ConfigureAwait(false);
            return 1;
        }
        catch (OperationCanceledException)
        {
            await app.StopAsync().ConfigureAwait(false);
            return 130;
        }

        PrintTable(app, options, started.Elapsed);
        try
        {
            await Task.Delay(Timeout.Infinite, stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        Console.WriteLine("Stopping...");
        await app.StopAsync().ConfigureAwait(false);
        Console.WriteLine("Stopped.");
        return 0;
    }

    private static void PrintTable(DistributedApplication app, AppHostOptions options, TimeSpan elapsed)
    {
        Console.WriteLine();
        Console.WriteLine($"All resources healthy in {elapsed.TotalSeconds:0.0} s. Data: {options.DataDirectory}");
        Console.WriteLine($"{"RESOURCE",-18} {"TYPE",-18} {"STATE",-10} ENDPOINT");
        foreach (var resource in app.Resources)
        {
            Console.WriteLine($"{resource.Name,-18} {resource.Type,-18} {resource.State,-10} {string.Join(' ', resource.Endpoints)}");
        }

        if (app.Dashboard is { } dashboard)
        {
            Console.WriteLine($"Dashboard: {dashboard.Url}  (resources, console and structured logs, traces, metrics)");
        }

        Console.WriteLine("Press Ctrl+C to stop everything.");
    }

    /// <summary>The folder that holds Booking.slnx, found upwards from this assembly's output directory.</summary>
    public static string FindRepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Booking.slnx")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Booking.slnx not found above the AppHost's output directory.");
    }
}
