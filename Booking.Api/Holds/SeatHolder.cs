using Booking.Core.Holds;
using Booking.Core.Seats;

namespace Booking.Api.Holds;

/// <summary>
/// How seat holds are made, chosen once at start-up by <c>Booking:HoldStrategy</c>: the Lua script (<c>lua</c>,
/// the product) or the per-seat-lock design it replaced (<c>naive</c>, for the benchmark's comparison only).
/// </summary>
public interface ISeatHolder
{
    Task<HoldAttempt> HoldAsync(string performanceId, Guid holdId, string userId, TimeSpan ttl, IReadOnlyList<string> seatIds);
}

/// <summary>Every seat or none in one Lua call (<c>hold_seats</c>).</summary>
public sealed class LuaSeatHolder(SeatEngine seats) : ISeatHolder
{
    public Task<HoldAttempt> HoldAsync(string performanceId, Guid holdId, string userId, TimeSpan ttl, IReadOnlyList<string> seatIds) =>
        seats.HoldAsync(performanceId, holdId, userId, ttl, seatIds);
}
