namespace Booking.Tests.Infrastructure;

/// <summary>
/// The system clock moved by an offset: a machine whose clock is off, an issuer ahead of the service, a day later.
/// Time still passes as it does; a test may move the offset again (<see cref="Advance"/>).
/// </summary>
public sealed class ShiftedClock(TimeSpan offset) : TimeProvider
{
    private long _offsetTicks = offset.Ticks;

    public TimeSpan Offset => TimeSpan.FromTicks(Interlocked.Read(ref _offsetTicks));

    public void Advance(TimeSpan by) => Interlocked.Add(ref _offsetTicks, by.Ticks);

    public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + Offset;
}
