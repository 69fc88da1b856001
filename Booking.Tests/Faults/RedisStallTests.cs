using System.Diagnostics;
using Booking.Api.Http;

namespace Booking.Tests.Faults;

/// <summary>The booking API on a Redis of its own (the AppHost's executable resource), so the test can freeze it.</summary>
public sealed class OwnRedisApp(Dependencies dependencies) : BookingApp(dependencies)
{
    private OwnRedis _redis = null!;

    public int RedisPid => _redis.Pid;

    public override StackExchange.Redis.IDatabase Redis => _redis.Connection.GetDatabase();

    protected override IEnumerable<KeyValuePair<string, string?>> Settings =>
    [
        new("ConnectionStrings:redis", _redis.ConnectionString),
        new("Booking:SweepInterval", "00:00:00.200"),
    ];

    protected override async Task BeforeStartAsync() => _redis = await OwnRedis.StartAsync();

    protected override async ValueTask StopMoreAsync()
    {
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
    }
}

public sealed class RedisStallTests(OwnRedisApp app) : IClassFixture<OwnRedisApp>
{
    [Fact]
    public async Task A_redis_frozen_for_twelve_seconds_gives_503s_not_a_dead_api_and_holds_work_again_after()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 10));
        using var client = app.Client($"stall-{Guid.NewGuid():N}");
        // A live hold, so the hold sweeper has a resource to visit every 200 ms.
        await client.HoldSeatsAsync(performance, "A-1-1");

        using (var stop = Process.Start("kill", ["-STOP", app.RedisPid.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await stop.WaitForExitAsync();
        }

        var statuses = new List<HttpStatusCode>();
        try
        {
            var until = DateTime.UtcNow.AddSeconds(12);
            while (DateTime.UtcNow < until)
            {
                using var response = await client.PostJsonAsync($"/api/performances/{performance}/holds", new { seatIds = new[] { "A-1-2" } });
                statuses.Add(response.StatusCode);
                if (response.StatusCode != HttpStatusCode.Created)
                {
                    await response.AssertProblemAsync(HttpStatusCode.ServiceUnavailable, ProblemCodes.DependencyUnavailable);
                }
            }
        }
        finally
        {
            using var resume = Process.Start("kill", ["-CONT", app.RedisPid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            await resume.WaitForExitAsync();
        }

        Assert.Contains(HttpStatusCode.ServiceUnavailable, statuses);
        // The sweeper met timeouts for twelve seconds and the process is still serving: holds work again.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            using var alive = await client.GetAsync("/alive");
            using var hold = await client.PostJsonAsync($"/api/performances/{performance}/holds", new { seatIds = new[] { "A-1-3" } });
            if (alive.StatusCode == HttpStatusCode.OK && hold.StatusCode == HttpStatusCode.Created)
            {
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, $"After the stall: /alive {alive.StatusCode}, hold {hold.StatusCode}.");
            await Task.Delay(500);
        }
    }
}
