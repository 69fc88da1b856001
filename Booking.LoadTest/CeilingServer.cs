using System.Diagnostics.Metrics;
using Booking.Core.Holds;
using Booking.Core.Lua;
using Booking.Core.Seats;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace Booking.LoadTest;

/// <summary>
/// The machine's ceiling for comparison: a bare Kestrel endpoint that runs one EVALSHA of the real
/// <c>hold_seats</c> script per request (and one of <c>unbook_seats</c> to give seats back). No validation,
/// database, telemetry or middleware: what is left when the product's own work is taken away.
/// </summary>
public static class CeilingServer
{
    public sealed record HoldRequest(string[] SeatIds);

    public static async Task<int> RunAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        var redis = await ConnectionMultiplexer.ConnectAsync(builder.Configuration.GetConnectionString("redis")!).ConfigureAwait(false);
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>();
        var lua = new LuaRunner(redis, new LuaScripts(), meters);
        await lua.LoadAllAsync().ConfigureAwait(false);
        var seats = new SeatEngine(lua, redis);
        var app = builder.Build();

        app.MapGet("/health", () => "ok");
        app.MapPost("/load/{performanceId}", async (string performanceId, int count) =>
        {
            await seats.LoadAsync(performanceId, SeatIds(count), []).ConfigureAwait(false);
            return Results.Ok();
        });
        app.MapPost("/hold/{performanceId}", async (string performanceId, HoldRequest request) =>
        {
            var holdId = Guid.NewGuid();
            var resource = ResourceRef.Performance(performanceId);
            var args = new RedisValue[4 + request.SeatIds.Length];
            args[0] = resource.KeyBase;
            args[1] = holdId.ToString("D");
            args[2] = "ceiling";
            args[3] = 300_000;
            for (var i = 0; i < request.SeatIds.Length; i++)
            {
                args[4 + i] = request.SeatIds[i];
            }

            var result = await redis.GetDatabase().ScriptEvaluateAsync(lua.Scripts.HoldSeats.Sha1, HoldEngine.Keys(resource, holdId), args).ConfigureAwait(false);
            return ((RedisResult[])result!)[0].ToString() == "OK" ? Results.Created($"/hold/{performanceId}/{holdId}", new { holdId }) : Results.Conflict();
        });
        app.MapDelete("/hold/{performanceId}/{holdId:guid}", async (string performanceId, Guid holdId) =>
        {
            var resource = ResourceRef.Performance(performanceId);
            await redis.GetDatabase().ScriptEvaluateAsync(lua.Scripts.UnbookSeats.Sha1, HoldEngine.Keys(resource, holdId), [resource.KeyBase, holdId.ToString("D")]).ConfigureAwait(false);
            return Results.NoContent();
        });

        await app.RunAsync().ConfigureAwait(false);
        return 0;
    }

    /// <summary>The seat ids of a performance of <paramref name="count"/> seats: sections of 100 rows of 100.</summary>
    public static List<string> SeatIds(int count)
    {
        var ids = new List<string>(count);
        for (var i = 0; i < count; i++)
        {
            ids.Add($"S{i / 10_000}-{(i % 10_000 / 100) + 1}-{(i % 100) + 1}");
        }

        return ids;
    }
}
