using Booking.Tests.Faults;

namespace Booking.Tests.Holds;

/// <summary>The registry of resources the hold sweeper visits keeps only resources whose state Redis holds.</summary>
public sealed class ResourceRegistryTests(OwnRedisApp app) : IClassFixture<OwnRedisApp>
{
    [Fact]
    public async Task A_resource_whose_state_is_gone_leaves_the_registry_and_joins_again_when_loaded_again()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 4));
        using var client = app.Client();
        await client.HoldSeatsAsync(performance, "A-1-1");
        var member = $"PERFORMANCE|{performance}";
        Assert.True(await app.Redis.SetContainsAsync("booking:resources", member));

        await app.Redis.KeyDeleteAsync($"perf:{{{performance}}}:seats");
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (await app.Redis.SetContainsAsync("booking:resources", member))
        {
            Assert.True(DateTime.UtcNow < deadline, "The registry still lists a resource whose state is gone.");
            await Task.Delay(100);
        }

        await client.HoldSeatsAsync(performance, "A-1-2");
        Assert.True(await app.Redis.SetContainsAsync("booking:resources", member));
    }

    [Fact]
    public async Task A_member_stored_before_the_domain_had_one_spelling_is_stored_again_in_it()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 4));
        using var client = app.Client();
        await client.HoldSeatsAsync(performance, "A-1-1");
        var (old, current) = ($"Performance|{performance}", $"PERFORMANCE|{performance}");
        await app.Redis.SetRemoveAsync("booking:resources", current);
        await app.Redis.SetAddAsync("booking:resources", old);

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (await app.Redis.SetContainsAsync("booking:resources", old) || !await app.Redis.SetContainsAsync("booking:resources", current))
        {
            Assert.True(DateTime.UtcNow < deadline, "The sweep did not store the old spelling again in the one spelling.");
            await Task.Delay(100);
        }
    }
}
