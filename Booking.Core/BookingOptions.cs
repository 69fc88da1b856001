using Microsoft.Extensions.Options;

namespace Booking.Core;

public enum HoldStrategy
{
    Lua,
    Naive,
}

/// <summary>The <c>Booking</c> configuration section.</summary>
public sealed class BookingOptions
{
    public const string SectionName = "Booking";

    /// <summary>How long a hold lasts before its units return by themselves.</summary>
    public TimeSpan HoldTtl { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Once a reservation is accepted (202) its hold is pinned to it and lasts this long instead, so only the saga
    /// decides its fate: relay lag, a worker outage or clock skew shorter than this never fails it HOLD_EXPIRED.
    /// A reservation that was never stored (a crash between pinning and the commit) frees its units after this.
    /// </summary>
    public TimeSpan ReservedHoldLease { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// How long a confirmed hold's record stays in Redis for compensation (a cancel). Past it the record is gone and a
    /// cancel gives the units back from PostgreSQL's copy of them, so Redis does not grow with every booking ever made.
    /// </summary>
    public TimeSpan BookedHoldRetention { get; set; } = TimeSpan.FromDays(180);

    /// <summary>The engines' <see cref="BookedHoldRetention"/>, the default where they run without options (tools, tests).</summary>
    public static TimeSpan BookedRetention(IOptions<BookingOptions>? options) => options?.Value.BookedHoldRetention ?? new BookingOptions().BookedHoldRetention;

    public int MaxSeatsPerHold { get; set; } = 8;

    /// <summary>
    /// How seats are held: <c>lua</c> (the product: one script call, all or nothing) or <c>naive</c> (the design it
    /// replaced, kept to measure against: a Redis lock and several round trips per seat). Read once, at start-up; any
    /// other value stops the start.
    /// </summary>
    public HoldStrategy HoldStrategy { get; set; } = HoldStrategy.Lua;

    /// <summary>Largest quantity one capacity hold may take.</summary>
    public int MaxQuantityPerHold { get; set; } = 50;

    /// <summary>How long a saga may keep retrying its steps before it gives up and compensates.</summary>
    public TimeSpan SagaTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// A saga that made no progress for this long is resumed by the worker's sweep, so a lost Kafka message or a
    /// crashed worker never strands a reservation.
    /// </summary>
    public TimeSpan SagaResumeAfter { get; set; } = TimeSpan.FromSeconds(10);

    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a resource's state (a performance's seats, a slot's counters) stays in Redis unused (no hold live, no
    /// hold, release, read or capacity change); past it the sweeper drops it, and the next request loads it again.
    /// Zero keeps every one for good.
    /// </summary>
    public TimeSpan IdleStateLifetime { get; set; } = TimeSpan.FromDays(1);

    /// <summary>Holds one user may create per second (seat and capacity holds together); more answer 429.</summary>
    public int HoldsPerSecondPerUser { get; set; } = 20;

    /// <summary>How many holds a user may create at once before the per-second rate applies.</summary>
    public int HoldBurstPerUser { get; set; } = 40;

    /// <summary>How long a response is kept for replay under its <c>Idempotency-Key</c>.</summary>
    public TimeSpan IdempotencyRetention { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Most <c>Idempotency-Key</c> records kept per user; past it the user's oldest go first.</summary>
    public int IdempotencyRecordsPerUser { get; set; } = 1000;

    /// <summary>
    /// Most bytes of <c>Idempotency-Key</c> answers kept per user; past it the user's oldest go first. A thousand
    /// ordinary answers (a reservation with a few details) take about 2 MB.
    /// </summary>
    public long IdempotencyBytesPerUser { get; set; } = 8 * 1024 * 1024;

    /// <summary>
    /// How long a claimed key stays claimed without word from its request; a running request renews it every third of
    /// this, so a slow request is never run twice and a crashed one frees its key after this.
    /// </summary>
    public TimeSpan IdempotencyLease { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Most reservations one API holds waiting for their group commit (besides the two batches being written); past it
    /// a reservation request is answered 503 at once. About eight seconds of the 1,300 bookings a second the benchmark
    /// measured: a stalled PostgreSQL does not gather requests without bound.
    /// </summary>
    public int MaxPendingReservations { get; set; } = 10_000;
}

/// <summary>
/// Every <see cref="BookingOptions"/> setting in its range, checked at start-up, each one out of range named: a time of
/// zero would stop the sweeper's timer, make Redis refuse every idempotency claim (<c>PX 0</c>) or drop every booked
/// hold's record as it is confirmed.
/// </summary>
public sealed class BookingOptionsValidator : IValidateOptions<BookingOptions>
{
    public ValidateOptionsResult Validate(string? name, BookingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        void Check(bool inRange, string setting, object value, string range)
        {
            if (!inRange)
            {
                failures.Add($"{BookingOptions.SectionName}:{setting} must be {range}; it is {value}.");
            }
        }

        // Times reach Redis in whole milliseconds (PX, PEXPIRE), and timers take at most about 49 days.
        void Time(TimeSpan value, string setting, TimeSpan? least = null, TimeSpan? most = null)
        {
            var (min, max) = (least ?? TimeSpan.FromMilliseconds(1), most ?? TimeSpan.MaxValue);
            Check(value >= min && value <= max, setting, value, max == TimeSpan.MaxValue ? $"at least {min}" : $"from {min} to {max}");
        }

        void Count(long value, string setting) => Check(value >= 1, setting, value, "at least 1");

        Time(options.HoldTtl, nameof(options.HoldTtl));
        Time(options.ReservedHoldLease, nameof(options.ReservedHoldLease));
        Time(options.BookedHoldRetention, nameof(options.BookedHoldRetention));
        Time(options.SagaTimeout, nameof(options.SagaTimeout));
        Time(options.SagaResumeAfter, nameof(options.SagaResumeAfter));
        Time(options.SweepInterval, nameof(options.SweepInterval), most: TimeSpan.FromDays(1));
        Time(options.IdempotencyRetention, nameof(options.IdempotencyRetention));
        // Renewed every third of it by a timer, and a lease shorter than a request is no lease.
        Time(options.IdempotencyLease, nameof(options.IdempotencyLease), least: TimeSpan.FromSeconds(1), most: TimeSpan.FromDays(1));
        // Kept in whole seconds: a part of a second would be zero, which keeps nothing rather than everything.
        Check(options.IdleStateLifetime == TimeSpan.Zero || options.IdleStateLifetime >= TimeSpan.FromSeconds(1),
            nameof(options.IdleStateLifetime), options.IdleStateLifetime, "zero (keep every state) or at least a second");
        Count(options.MaxSeatsPerHold, nameof(options.MaxSeatsPerHold));
        Count(options.MaxQuantityPerHold, nameof(options.MaxQuantityPerHold));
        Count(options.HoldsPerSecondPerUser, nameof(options.HoldsPerSecondPerUser));
        Count(options.HoldBurstPerUser, nameof(options.HoldBurstPerUser));
        Count(options.IdempotencyRecordsPerUser, nameof(options.IdempotencyRecordsPerUser));
        Count(options.IdempotencyBytesPerUser, nameof(options.IdempotencyBytesPerUser));
        Count(options.MaxPendingReservations, nameof(options.MaxPendingReservations));

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
