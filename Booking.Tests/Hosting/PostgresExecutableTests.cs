using System.Diagnostics;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Booking.AppHost.Hosting;
using Npgsql;

namespace Booking.Tests.Hosting;

public sealed class PostgresExecutableTests
{
    [Fact]
    public async Task Stopping_with_a_client_still_connected_is_a_clean_fast_shutdown_and_a_restart_keeps_the_password()
    {
        var ct = TestContext.Current.CancellationToken;
        using var data = new TestDirectory("pg");
        var directory = data.Path;
        var (app, connectionString) = await StartPostgresAsync(directory, ct);
        await using var _ = app;
        // A pooled connection left open, as every service and the AppHost's health checks leave them.
        await using var connection = new NpgsqlConnection(connectionString + ";Database=postgres");
        await connection.OpenAsync(ct);
        var hba = (await File.ReadAllLinesAsync(Path.Combine(directory, "postgres", "pg_hba.conf"), ct))
            .Where(l => l.Trim().Length > 0 && !l.TrimStart().StartsWith('#')).ToList();
        Assert.NotEmpty(hba);
        Assert.All(hba, line => Assert.EndsWith("scram-sha-256", line.Trim(), StringComparison.Ordinal));

        var watch = Stopwatch.StartNew();
        var commands = app.Services.GetRequiredService<ResourceCommandService>();
        Assert.True((await commands.ExecuteCommandAsync("postgres", KnownResourceCommands.StopCommand, ct)).Success);
        await app.ResourceNotifications.WaitForResourceAsync("postgres", [KnownResourceStates.Exited, KnownResourceStates.Finished], ct).WaitAsync(TimeSpan.FromSeconds(30), ct);

        // A smart shutdown would wait for the open client until DCP kills the server, and a kill leaves
        // postmaster.pid behind (crash recovery at the next start); the fast shutdown ends sessions and removes it.
        // (20 s: the stop goes through DCP, a checkpoint's fsync and Aspire's notification, on a machine busy with the
        // suite; postmaster.pid, below, is what tells a fast shutdown from a kill.)
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"PostgreSQL took {watch.Elapsed.TotalSeconds:0.0} s to stop.");
        await WaitUntilAsync(() => !File.Exists(Path.Combine(directory, "postgres", "postmaster.pid")), ct);
        Assert.False(File.Exists(Path.Combine(directory, "postgres", "postmaster.pid")));

        // Started again on the same data, the generated password (kept beside the data) still opens it.
        await TestAppHost.StartAgainAsync(app, "postgres", TimeSpan.FromMinutes(1));
        await using var again = new NpgsqlConnection(connectionString + ";Database=postgres;Pooling=false");
        await again.OpenAsync(ct);
        await app.StopAsync(ct);
    }

    [Fact]
    public async Task A_wrong_password_is_refused()
    {
        var ct = TestContext.Current.CancellationToken;
        using var data = new TestDirectory("pg");
        var directory = data.Path;
        var (app, connectionString) = await StartPostgresAsync(directory, ct);
        await using var _ = app;

        var wrong = new NpgsqlConnectionStringBuilder(connectionString) { Password = "not-the-password", Database = "postgres", Pooling = false };
        await using var connection = new NpgsqlConnection(wrong.ConnectionString);
        var refused = await Assert.ThrowsAsync<PostgresException>(() => connection.OpenAsync(ct));
        Assert.Equal("28P01", refused.SqlState);
        await app.StopAsync(ct);
    }

    /// <summary>The AppHost's PostgreSQL resource alone, run by DCP on a data directory of the test's own.</summary>
    private static async Task<(DistributedApplication App, string ConnectionString)> StartPostgresAsync(string directory, CancellationToken ct)
    {
        var builder = TestAppHost.CreateBuilder();
        var postgres = builder.AddPostgresExecutable("postgres", new AppHostSettings { DataDirectory = directory, RandomPorts = true, Durable = false });
        var app = await TestAppHost.StartAsync(builder, "postgres");
        return (app, (await postgres.Resource.ConnectionStringExpression.GetValueAsync(ct))!);
    }

    private static async Task WaitUntilAsync(Func<bool> condition, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100, ct);
        }
    }
}
