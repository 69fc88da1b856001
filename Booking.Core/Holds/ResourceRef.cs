using StackExchange.Redis;

namespace Booking.Core.Holds;

public enum BookingDomain
{
    Performance,
    Exhibition,
    Restaurant,
}

public static class BookingDomains
{
    /// <summary>A domain's one spelling, in ../shared/API.md, PostgreSQL and every Redis key and record: PERFORMANCE, EXHIBITION, RESTAURANT.</summary>
    public static string Code(this BookingDomain domain) => domain.ToString().ToUpperInvariant();

    /// <summary>Reads a stored spelling; records written before there was one spelling ("Exhibition") read too.</summary>
    public static BookingDomain Parse(string code) => Enum.Parse<BookingDomain>(code, ignoreCase: true);
}

/// <summary>
/// What a hold is on: a performance's seats, or one slot of an exhibition's or restaurant's counted capacity.
/// It is also the one key builder of the Redis layout: every key of one resource shares its hash tag.
/// </summary>
public sealed record ResourceRef(BookingDomain Domain, string ResourceId, string? Slot)
{
    public static ResourceRef Performance(string performanceId) => new(BookingDomain.Performance, performanceId, null);

    public bool IsSeated => Domain == BookingDomain.Performance;

    public string KeyBase => IsSeated
        ? $"perf:{{{ResourceId}}}"
        : $"cap:{{{Domain.Code()}:{ResourceId}:{Slot}}}";

    /// <summary>The seat hash of a performance, or the counters hash of a capacity slot.</summary>
    public RedisKey StateKey => KeyBase + (IsSeated ? ":seats" : ":state");

    public RedisKey ExpiryKey => KeyBase + ":expiry";

    public RedisKey HoldKey(Guid holdId) => $"{KeyBase}:hold:{holdId:D}";
}
