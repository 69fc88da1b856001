using Booking.AppHost.Hosting;
using Booking.Tests.Infrastructure;
using StackExchange.Redis;

[assembly: AssemblyFixture(typeof(Dependencies))]

namespace Booking.Tests.Infrastructure;

/// <summary>
/// The real Redis and PostgreSQL every test talks to, started once per test run from the installed binaries on
/// free loopback ports (through the AppHost's own hosting components) and removed afterwards.
/// </summary>
public sealed class Dependencies : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "booking-tests", Guid.NewGuid().ToString("N"));

    public RedisServer Redis { get; private set; } = null!;

    public PostgresServer Postgres { get; private set; } = null!;

    public IConnectionMultiplexer RedisConnection { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        var redis = RedisServer.StartAsync(Path.Combine(_root, "redis"), appendOnly: false);
        // Each test class hosts its own services, each with its own connection pools.
        var postgres = PostgresServer.StartAsync(Path.Combine(_root, "postgres"), durable: false, maxConnections: 1000);
        Redis = await redis;
        Postgres = await postgres;
        RedisConnection = await ConnectionMultiplexer.ConnectAsync(Redis.ConnectionString);
    }

    /// <summary>A new, empty database for one test class.</summary>
    public async Task<string> CreateDatabaseAsync(string prefix)
    {
        var name = $"{prefix}_{Guid.NewGuid():N}"[..40];
        await Postgres.EnsureDatabaseAsync(name);
        return Postgres.ConnectionString(name);
    }

    public async ValueTask DisposeAsync()
    {
        RedisConnection?.Dispose();
        if (Redis is not null)
        {
            await Redis.DisposeAsync();
        }

        if (Postgres is not null)
        {
            await Postgres.DisposeAsync();
        }

        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // A server still closing its files; the temp directory is cleaned by the OS later.
        }
    }
}
