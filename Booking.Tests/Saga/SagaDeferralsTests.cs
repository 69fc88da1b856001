using Booking.SagaWorker.Saga;

namespace Booking.Tests.Saga;

public sealed class SagaDeferralsTests
{
    [Fact]
    public void A_saga_is_kept_out_until_its_time_is_up()
    {
        var clock = new ManualClock();
        var deferrals = new SagaDeferrals(clock);
        var saga = Guid.NewGuid();

        Assert.True(deferrals.Defer(saga, clock.GetUtcNow().AddSeconds(5)));
        clock.Now += TimeSpan.FromSeconds(4);
        Assert.Equal([saga], deferrals.Current());
        clock.Now += TimeSpan.FromSeconds(1);
        Assert.Empty(deferrals.Current());
    }

    [Fact]
    public void Past_its_capacity_it_keeps_no_more_until_some_time_is_up()
    {
        var clock = new ManualClock();
        var deferrals = new SagaDeferrals(clock);
        var until = clock.GetUtcNow().AddSeconds(5);
        for (var i = 0; i < SagaDeferrals.Capacity; i++)
        {
            Assert.True(deferrals.Defer(Guid.NewGuid(), until));
        }

        var late = Guid.NewGuid();
        Assert.False(deferrals.Defer(late, until.AddSeconds(5)));
        Assert.Equal(SagaDeferrals.Capacity, deferrals.Current().Length);

        clock.Now += TimeSpan.FromSeconds(5);
        Assert.True(deferrals.Defer(late, until.AddSeconds(5)));
        Assert.Equal([late], deferrals.Current());
    }

    private sealed class ManualClock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2026, 11, 27, 12, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
