using Booking.Core.Capacity;
using Booking.Core.Data;
using Booking.Core.Holds;
using Microsoft.EntityFrameworkCore;

namespace Booking.Api.Capacity;

/// <summary>
/// Puts a slot's counters into Redis when they are not there, from PostgreSQL's record of its capacity and of
/// its live bookings, so a Redis that lost its data never frees a booked unit.
/// </summary>
public sealed partial class CapacityStateLoader(
    CapacityEngine capacity,
    ResourceRegistry registry,
    BookingDbContext db,
    ILogger<CapacityStateLoader> logger)
{

    /// <summary>Loads the slot; false when no capacity was ever set for it.</summary>
    public async Task<bool> LoadAsync(ResourceRef slot, CancellationToken cancellationToken)
    {
        var record = await db.CapacitySlots
            .AsNoTracking()
            .SingleOrDefaultAsync(s => s.Domain == slot.Domain && s.ResourceId == slot.ResourceId && s.Slot == slot.Slot, cancellationToken)
            .ConfigureAwait(false);
        if (record is null)
        {
            return false;
        }

        var bookings = await db.Reservations
            .AsNoTracking()
            .Where(r => r.Domain == slot.Domain && r.ResourceId == slot.ResourceId && r.Slot == slot.Slot && Reservation.HoldingStatuses.Contains(r.Status))
            .Select(r => new CapacityBooking(r.HoldId, r.UserId, r.Quantity))
            .ToListAsync(cancellationToken)
            .ConfigureAwait(false);

        if (await capacity.LoadAsync(slot, record.Capacity, bookings).ConfigureAwait(false))
        {
            await registry.AddAsync(slot).ConfigureAwait(false);
            LogLoaded(slot.Domain, slot.ResourceId, slot.Slot, record.Capacity, bookings.Count);
        }

        return true;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Loaded capacity of {Domain} {ResourceId} {Slot}: {Capacity} units, {BookingCount} bookings kept")]
    private partial void LogLoaded(BookingDomain domain, string resourceId, string? slot, int capacity, int bookingCount);
}
