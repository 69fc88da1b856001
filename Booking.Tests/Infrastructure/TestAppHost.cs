using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Booking.AppHost.Hosting;
using Npgsql;

namespace Booking.Tests.Infrastructure;

/// <summary>A bare Aspire app for tests that need only some of the AppHost's resources (DCP runs them, no dashboard).</summary>
public static class TestAppHost
{
    public static IDistributedApplicationBuilder CreateBuilder() =>
        DistributedApplication.CreateBuilder(new DistributedApplicationOptions
        {
            Args = [],
            // DCP's location is read from the AppHost assembly's metadata.
            AssemblyName = typeof(Booking.AppHost.Hosting.AppHostSettings).Assembly.GetName().Name,
            DisableDashboard = true,
        });

    /// <summary>Builds and starts the app, and waits until every named resource is healthy.</summary>
    public static async Task<DistributedApplication> StartAsync(IDistributedApplicationBuilder builder, params string[] resources)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var app = builder.Build();
        await app.StartHealthyAsync(resources, TimeSpan.FromMinutes(2), CancellationToken.None);
        return app;
    }

    /// <summary>
    /// What the dashboard's Start button does to a stopped resource, then waits until it is healthy. The command
    /// returns before DCP reports the new process, and the old one's last status (Exited) can still arrive after it:
    /// a wait that stops at the first terminal state read that as a failed start in two full runs under load. So
    /// this waits for health through such states, and on timeout fails with what the resource wrote.
    /// </summary>
    public static async Task StartAgainAsync(DistributedApplication app, string resource, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(app);
        using var starting = new CancellationTokenSource(timeout);
        var started = await app.Services.GetRequiredService<ResourceCommandService>().ExecuteCommandAsync(resource, KnownResourceCommands.StartCommand, starting.Token);
        Assert.True(started.Success, started.Message);
        try
        {
            await app.ResourceNotifications.WaitForResourceHealthyAsync(resource, WaitBehavior.WaitOnResourceUnavailable, starting.Token);
        }
        catch (OperationCanceledException)
        {
            var model = app.Services.GetRequiredService<DistributedApplicationModel>();
            Assert.Fail($"{resource} was not healthy {timeout.TotalSeconds:0} s after its start command."
                + await HealthyStart.StopReasonAsync(app.Services, model.Resources.Single(r => r.Name == resource)));
        }
    }

    /// <summary>The process id DCP reports for a resource (for a project, its <c>dotnet run</c> wrapper).</summary>
    public static int Pid(DistributedApplication app, string resource)
    {
        ArgumentNullException.ThrowIfNull(app);
        Assert.True(app.ResourceNotifications.TryGetCurrentState(resource, out var state), resource);
        return int.Parse(state.Snapshot.Properties.Single(p => p.Name == "executable.pid").Value!.ToString()!, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>A new, empty database on the server; returns its connection string (a service's pool size).</summary>
    public static async Task<string> CreateDatabaseAsync(string serverConnectionString, string prefix)
    {
        var name = $"{prefix}_{Guid.NewGuid():N}";
        name = name[..Math.Min(name.Length, 40)];
        await using var connection = new NpgsqlConnection($"{serverConnectionString};Database=postgres;Pooling=false");
        await connection.OpenAsync();
        await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
        await create.ExecuteNonQueryAsync();
        return $"{serverConnectionString};Database={name};Maximum Pool Size=24;Timeout=15";
    }
}
