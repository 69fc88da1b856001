namespace Booking.Core;

public static class Clock
{
    /// <summary>Now, cut to whole microseconds: what PostgreSQL stores, so keyset cursors compare exactly.</summary>
    public static DateTimeOffset UtcNowMicros(this TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        var now = time.GetUtcNow();
        return now.AddTicks(-(now.Ticks % TimeSpan.TicksPerMicrosecond));
    }
}
