using Aspire.Hosting;
using Booking.AppHost.Hosting;
using StackExchange.Redis;

[assembly: AssemblyFixture(typeof(Dependencies))]

namespace Booking.Tests.Infrastructure;

/// <summary>
/// The real Redis and PostgreSQL every in-process test talks to: the AppHost's own executable resources, run by
/// DCP once per test run on free loopback ports (durability off for speed), and removed afterwards.
/// </summary>
public sealed class Dependencies : IAsyncLifetime
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(2);
    private readonly TestDirectory _root = new("dependencies");
    private DistributedApplication? _app;
    private string _postgres = null!;

    public string RedisConnectionString { get; private set; } = null!;

    public IConnectionMultiplexer RedisConnection { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        // One test process hosts the API, the performance service and the saga worker of many fixtures, plus hundreds
        // of virtual users: start with enough pool threads that a burst does not wait for the pool's slow growth
        // (Redis calls then time out behind queued work items, which no single service would meet in production).
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, 64), Math.Max(io, 64));

        // Each test class hosts its own services, each with its own connection pools.
        var settings = new AppHostSettings { DataDirectory = _root.Path, RandomPorts = true, Durable = false, PostgresMaxConnections = 1000 };
        var builder = TestAppHost.CreateBuilder();
        var redis = builder.AddRedisExecutable("redis", settings);
        var postgres = builder.AddPostgresExecutable("postgres", settings);
        _app = await TestAppHost.StartAsync(builder, "redis", "postgres");

        using var timeout = new CancellationTokenSource(StartTimeout);
        RedisConnectionString = (await redis.Resource.ConnectionStringExpression.GetValueAsync(timeout.Token))!;
        _postgres = (await postgres.Resource.ConnectionStringExpression.GetValueAsync(timeout.Token))!;
        RedisConnection = await ConnectionMultiplexer.ConnectAsync(RedisConnectionString);
    }

    /// <summary>A new, empty database for one test class; returns its connection string.</summary>
    public Task<string> CreateDatabaseAsync(string prefix) => TestAppHost.CreateDatabaseAsync(_postgres, prefix);

    public async ValueTask DisposeAsync()
    {
        RedisConnection?.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        _root.Dispose();
    }
}
