using System.Diagnostics;
using Booking.AppHost.Hosting;
using Npgsql;

namespace Booking.Tests.Hosting;

public sealed class PostgresServerTests
{
    [Fact]
    public async Task Stopping_with_a_client_still_connected_is_a_clean_fast_shutdown()
    {
        var directory = Path.Combine(Path.GetTempPath(), "booking-pg-stop-" + Guid.NewGuid().ToString("N"));
        try
        {
            var server = await PostgresServer.StartAsync(directory, durable: false, cancellationToken: TestContext.Current.CancellationToken);
            // A pooled connection left open, as every service and the AppHost's health checks leave them.
            await using var connection = new NpgsqlConnection(server.ConnectionString("postgres"));
            await connection.OpenAsync(TestContext.Current.CancellationToken);

            var watch = Stopwatch.StartNew();
            await server.DisposeAsync();

            // The kill after the grace period (10 s) would leave the data directory to crash recovery.
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"PostgreSQL took {watch.Elapsed.TotalSeconds:0.0} s to stop.");
            var output = string.Join('\n', server.Process.Output);
            Assert.Contains("fast shutdown request", output, StringComparison.Ordinal);
            Assert.Contains("database system is shut down", output, StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }
}
