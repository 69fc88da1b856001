using System.Diagnostics.Metrics;
using Booking.Core.Capacity;
using Booking.Core.Holds;
using Booking.Core.Lua;
using Booking.Core.Seats;
using StackExchange.Redis;

namespace Booking.Tests.Infrastructure;

/// <summary>The Lua engine wired to the real test Redis, without any web host around it.</summary>
public sealed class Engines
{
    public Engines(IConnectionMultiplexer redis)
    {
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>();
        Lua = new LuaRunner(redis, new LuaScripts(), meters);
        Holds = new HoldEngine(Lua, redis);
        Seats = new SeatEngine(Lua, redis);
        Capacity = new CapacityEngine(Lua, redis);
        Redis = redis.GetDatabase();
    }

    public LuaRunner Lua { get; }
    public HoldEngine Holds { get; }
    public SeatEngine Seats { get; }
    public CapacityEngine Capacity { get; }
    public IDatabase Redis { get; }

    /// <summary>A fresh performance id with sections A and B of <paramref name="rows"/> x <paramref name="perRow"/> seats loaded.</summary>
    public async Task<(string PerformanceId, List<string> SeatIds)> NewPerformanceAsync(int rows = 2, int perRow = 10)
    {
        var id = Guid.NewGuid().ToString("N");
        var seats = (from section in new[] { "A", "B" }
                     from row in Enumerable.Range(1, rows)
                     from number in Enumerable.Range(1, perRow)
                     select $"{section}-{row}-{number}").ToList();
        Assert.True(await Seats.LoadAsync(id, seats, []));
        return (id, seats);
    }

    public async Task<IReadOnlyDictionary<string, SeatStatus>> MapAsync(string performanceId) =>
        await Seats.ReadAsync(performanceId) ?? throw new InvalidOperationException("not loaded");
}
