namespace Booking.Tests.Hosting;

public sealed class RetryDelayTests
{
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan HalfMinute = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 2)]
    [InlineData(4, 16)]
    [InlineData(5, 30)]
    [InlineData(62, 30)]
    [InlineData(int.MaxValue, 30)]
    public void A_delay_doubles_with_each_failure_in_a_row_and_never_passes_its_cap(int times, int seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), RetryDelay.Doubled(Second, HalfMinute, times));

    [Fact]
    public void Doubling_once_is_the_default_and_a_delay_at_its_cap_stays_there()
    {
        Assert.Equal(TimeSpan.FromSeconds(8), RetryDelay.Doubled(TimeSpan.FromSeconds(4), HalfMinute));
        Assert.Equal(HalfMinute, RetryDelay.Doubled(HalfMinute, HalfMinute));
        Assert.Equal(TimeSpan.MaxValue, RetryDelay.Doubled(TimeSpan.MaxValue, TimeSpan.MaxValue));
    }

    [Fact]
    public void A_negative_count_of_failures_is_refused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => RetryDelay.Doubled(Second, HalfMinute, -1));
}
