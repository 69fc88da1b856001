using StackExchange.Redis;

namespace Booking.Core.Lua;

/// <summary>Loads every Lua script once at start-up, and again whenever a Redis connection is restored.</summary>
public sealed partial class LuaScriptLoader(LuaRunner runner, IConnectionMultiplexer redis, ILogger<LuaScriptLoader> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        redis.ConnectionRestored += OnConnectionRestored;
        try
        {
            await runner.LoadAllAsync().ConfigureAwait(false);
            LogLoaded(runner.Scripts.All.Count);
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            // Not fatal (a stalled Redis times out as RedisTimeoutException, a TimeoutException): each call reloads its script on NOSCRIPT once Redis is reachable.
            LogLoadFailed(exception);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        redis.ConnectionRestored -= OnConnectionRestored;
        return Task.CompletedTask;
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e) =>
        _ = Task.Run(async () =>
        {
            try
            {
                await runner.LoadAllAsync().ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is RedisException or TimeoutException)
            {
                LogReloadFailed(exception);
            }
        });

    [LoggerMessage(Level = LogLevel.Information, Message = "Loaded {ScriptCount} Lua scripts")]
    private partial void LogLoaded(int scriptCount);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not load the Lua scripts at start-up; they load on first use")]
    private partial void LogLoadFailed(Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not reload the Lua scripts after reconnecting")]
    private partial void LogReloadFailed(Exception exception);
}
