using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Booking.AppHost.Hosting;
using StackExchange.Redis;

namespace Booking.Tests.Infrastructure;

/// <summary>
/// A Redis of a fixture's own (the AppHost's executable resource, run by DCP), for tests that freeze, flush or kill it
/// without touching the Redis every other test shares.
/// </summary>
public sealed class OwnRedis : IAsyncDisposable
{
    private readonly TestDirectory _data = new("own-redis");
    private DistributedApplication _host = null!;

    public string ConnectionString { get; private set; } = null!;

    public int Pid { get; private set; }

    public IConnectionMultiplexer Connection { get; private set; } = null!;

    /// <summary>Starts the resource again after it died (what the dashboard's Start button runs), from its AOF when durable.</summary>
    public async Task StartAgainAsync()
    {
        await TestAppHost.StartAgainAsync(_host, "redis", TimeSpan.FromMinutes(1));
        Pid = TestAppHost.Pid(_host, "redis");
    }

    public static async Task<OwnRedis> StartAsync(bool durable = false)
    {
        var redis = new OwnRedis();
        var builder = TestAppHost.CreateBuilder();
        var resource = builder.AddRedisExecutable("redis", new AppHostSettings
        {
            DataDirectory = redis._data.Path,
            RandomPorts = true,
            Durable = durable,
        });
        redis._host = await TestAppHost.StartAsync(builder, "redis");
        redis.ConnectionString = (await resource.Resource.ConnectionStringExpression.GetValueAsync(CancellationToken.None))!;
        redis.Pid = TestAppHost.Pid(redis._host, "redis");
        redis.Connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString + ",allowAdmin=true");
        return redis;
    }

    public async ValueTask DisposeAsync()
    {
        Connection?.Dispose();
        if (_host is not null)
        {
            await _host.StopAsync();
            await _host.DisposeAsync();
        }

        _data.Dispose();
    }
}
