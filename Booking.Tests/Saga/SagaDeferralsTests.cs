using Booking.SagaWorker.Saga;

namespace Booking.Tests.Saga;

public sealed class SagaDeferralsTests
{
    private static readonly TimeSpan First = TimeSpan.FromSeconds(5);

    [Fact]
    public void A_saga_is_kept_out_until_its_time_is_up_and_twice_as_long_each_time_again_up_to_a_minute()
    {
        var clock = new ManualClock();
        var deferrals = new SagaDeferrals(clock);
        var saga = Guid.NewGuid();

        foreach (var period in new[] { 5, 10, 20, 40, 60, 60 })
        {
            Assert.True(deferrals.Defer(saga, First));
            clock.Now += TimeSpan.FromSeconds(period) - TimeSpan.FromMilliseconds(1);
            Assert.Equal([saga], deferrals.Current());
            clock.Now += TimeSpan.FromMilliseconds(1);
            Assert.Empty(deferrals.Current());
        }

        // Not kept out again for a minute after its time was up: forgotten, so the next time is the first again.
        clock.Now += SagaDeferrals.Longest;
        Assert.True(deferrals.Defer(saga, First));
        clock.Now += First;
        Assert.Empty(deferrals.Current());
    }

    [Fact]
    public void Past_its_capacity_it_keeps_no_more_until_some_are_forgotten()
    {
        var clock = new ManualClock();
        var deferrals = new SagaDeferrals(clock);
        for (var i = 0; i < SagaDeferrals.Capacity; i++)
        {
            Assert.True(deferrals.Defer(Guid.NewGuid(), First));
        }

        var late = Guid.NewGuid();
        Assert.False(deferrals.Defer(late, First));
        Assert.Equal(SagaDeferrals.Capacity, deferrals.Current().Length);

        clock.Now += First + SagaDeferrals.Longest;
        Assert.True(deferrals.Defer(late, First));
        Assert.Equal([late], deferrals.Current());
    }

    private sealed class ManualClock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2026, 11, 27, 12, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
