namespace Microsoft.Extensions.Hosting;

/// <summary>The one rule every retry here waits by: the delay doubles with each failure in a row, up to a cap.</summary>
public static class RetryDelay
{
    /// <summary>
    /// <paramref name="delay"/> doubled <paramref name="times"/> times (once unless told), never past
    /// <paramref name="longest"/>.
    /// </summary>
    public static TimeSpan Doubled(TimeSpan delay, TimeSpan longest, int times = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(times);
        // Past 62 doublings even one tick overflows; a cap in use here is reached long before.
        var doubled = delay.Ticks <= 0 ? delay.Ticks : times >= 62 || delay.Ticks > long.MaxValue >> times ? long.MaxValue : delay.Ticks << times;
        return TimeSpan.FromTicks(Math.Min(doubled, longest.Ticks));
    }
}
