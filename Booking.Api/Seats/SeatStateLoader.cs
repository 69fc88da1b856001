using Booking.Api.Holds;
using Booking.Core.Data;
using Booking.Core.Holds;
using Booking.Core.Seats;
using Microsoft.EntityFrameworkCore;

namespace Booking.Api.Seats;

/// <summary>
/// Puts a performance's seat state into Redis when it is not there: the seat map from the performance service,
/// plus every live booking PostgreSQL records, so a Redis that lost its data never frees a booked seat.
/// </summary>
public sealed partial class SeatStateLoader(
    PerformanceClient performances,
    SeatEngine seats,
    ResourceRegistry registry,
    BookingDbContext db,
    ILogger<SeatStateLoader> logger) : IResourceStateLoader
{
    /// <summary>
    /// One load at a time per performance (striped, so the gates stay a fixed few): a burst of first requests on a
    /// cold performance makes one seat-map call and one PostgreSQL read, and the others find the state loaded.
    /// </summary>
    private static readonly SemaphoreSlim[] Gates = Enumerable.Range(0, 64).Select(_ => new SemaphoreSlim(1, 1)).ToArray();

    /// <summary>Loads the state; false when the performance does not exist.</summary>
    public async Task<bool> LoadAsync(ResourceRef resource, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(resource);
        var performanceId = resource.ResourceId;
        var gate = Gates[(int)((uint)StringComparer.Ordinal.GetHashCode(performanceId) % (uint)Gates.Length)];
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await seats.IsLoadedAsync(performanceId).ConfigureAwait(false) || await LoadNowAsync(performanceId, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task<bool> LoadNowAsync(string performanceId, CancellationToken cancellationToken)
    {
        var seatIds = await performances.GetSeatMapAsync(performanceId, cancellationToken).ConfigureAwait(false);
        if (seatIds is null)
        {
            return false;
        }

        var bookings = await db.Reservations
            .AsNoTracking()
            .Where(r => r.Domain == BookingDomain.Performance && r.ResourceId == performanceId && Reservation.HoldingStatuses.Contains(r.Status))
            .Select(r => new SeatBooking(r.HoldId, r.UserId, r.SeatIds))
            .ToListAsync(cancellationToken)
            .ConfigureAwait(false);

        if (await seats.LoadAsync(performanceId, seatIds, bookings).ConfigureAwait(false))
        {
            await registry.AddAsync(ResourceRef.Performance(performanceId)).ConfigureAwait(false);
            LogLoaded(performanceId, seatIds.Count, bookings.Count);
        }

        return true;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Loaded the seat state of performance {PerformanceId}: {SeatCount} seats, {BookingCount} bookings kept")]
    private partial void LogLoaded(string performanceId, int seatCount, int bookingCount);
}
