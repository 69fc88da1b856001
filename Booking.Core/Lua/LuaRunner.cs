using System.Diagnostics;
using System.Diagnostics.Metrics;
using StackExchange.Redis;

namespace Booking.Core.Lua;

/// <summary>
/// Runs a loaded script by SHA (EVALSHA), one round trip per operation, and records each call as a
/// <c>Booking.Lua</c> span named after the script plus a duration histogram.
/// </summary>
public sealed class LuaRunner(IConnectionMultiplexer redis, LuaScripts scripts, IMeterFactory meterFactory)
{
    public static readonly ActivitySource Source = new(BookingTelemetry.LuaSourceName);

    private readonly Histogram<double> _duration = meterFactory.Create(BookingTelemetry.MeterName)
        .CreateHistogram<double>("booking.lua.duration", unit: "ms", description: "Duration of one Lua script call.");

    public LuaScripts Scripts => scripts;

    /// <summary>Runs <paramref name="script"/>; its first result element is the outcome recorded on the span.</summary>
    public async Task<RedisResult[]> RunAsync(LuaScript script, RedisKey[] keys, RedisValue[] args, int units)
    {
        using var activity = Source.StartActivity(script.Name, ActivityKind.Client);
        activity?.SetTag("db.system", "redis");
        activity?.SetTag("db.operation", "EVALSHA");
        activity?.SetTag("booking.lua.script", script.Name);
        activity?.SetTag("booking.units", units);

        var started = Stopwatch.GetTimestamp();
        string outcome = "ERROR";
        try
        {
            var result = await EvaluateAsync(script, keys, args).ConfigureAwait(false);
            var items = result.Resp2Type == ResultType.Array ? (RedisResult[])result! : [result];
            outcome = items.Length > 0 && items[0].Resp2Type is ResultType.BulkString or ResultType.SimpleString
                ? (string)items[0]!
                : "OK";
            return items;
        }
        catch (Exception exception)
        {
            activity?.SetStatus(ActivityStatusCode.Error, exception.Message);
            throw;
        }
        finally
        {
            activity?.SetTag("booking.lua.result", outcome);
            _duration.Record(
                Stopwatch.GetElapsedTime(started).TotalMilliseconds,
                new KeyValuePair<string, object?>("script", script.Name),
                new KeyValuePair<string, object?>("result", outcome));
        }
    }

    private async Task<RedisResult> EvaluateAsync(LuaScript script, RedisKey[] keys, RedisValue[] args)
    {
        var database = redis.GetDatabase();
        try
        {
            return await database.ScriptEvaluateAsync(script.Sha1, keys, args).ConfigureAwait(false);
        }
        catch (RedisServerException exception) when (exception.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
        {
            // The server lost its script cache (restart, failover, SCRIPT FLUSH): load it again and retry once.
            await LoadAsync(script).ConfigureAwait(false);
            return await database.ScriptEvaluateAsync(script.Sha1, keys, args).ConfigureAwait(false);
        }
    }

    /// <summary>SCRIPT LOAD of every script on every primary, done once at start-up.</summary>
    public async Task LoadAllAsync()
    {
        foreach (var script in scripts.All)
        {
            await LoadAsync(script).ConfigureAwait(false);
        }
    }

    private async Task LoadAsync(LuaScript script)
    {
        foreach (var endpoint in redis.GetEndPoints())
        {
            var server = redis.GetServer(endpoint);
            if (server.IsConnected && !server.IsReplica)
            {
                var sha = await server.ScriptLoadAsync(script.Body).ConfigureAwait(false);
                if (!sha.AsSpan().SequenceEqual(script.Sha1))
                {
                    throw new InvalidOperationException($"Redis returned another SHA1 for Lua script '{script.Name}'.");
                }
            }
        }
    }
}
