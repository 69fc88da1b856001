using Booking.Api.Holds;
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
    ILogger<CapacityStateLoader> logger) : IResourceStateLoader
{
    /// <summary>Loads the slot; false when no capacity was ever set for it.</summary>
    public async Task<bool> LoadAsync(ResourceRef resource, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(resource);
        var record = await db.CapacitySlots
            .AsNoTracking()
            .SingleOrDefaultAsync(s => s.Domain == resource.Domain && s.ResourceId == resource.ResourceId && s.Slot == resource.Slot, cancellationToken)
            .ConfigureAwait(false);
        if (record is null)
        {
            return false;
        }

        var bookings = await db.Reservations
            .AsNoTracking()
            .Where(r => r.Domain == resource.Domain && r.ResourceId == resource.ResourceId && r.Slot == resource.Slot && Reservation.HoldingStatuses.Contains(r.Status))
            .Select(r => new CapacityBooking(r.HoldId, r.UserId, r.Quantity))
            .ToListAsync(cancellationToken)
            .ConfigureAwait(false);

        if (await capacity.LoadAsync(resource, record.Capacity, bookings).ConfigureAwait(false))
        {
            await registry.AddAsync(resource).ConfigureAwait(false);
            LogLoaded(resource.Domain, resource.ResourceId, resource.Slot, record.Capacity, bookings.Count);
        }

        return true;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Loaded capacity of {Domain} {ResourceId} {Slot}: {Capacity} units, {BookingCount} bookings kept")]
    private partial void LogLoaded(BookingDomain domain, string resourceId, string? slot, int capacity, int bookingCount);
}
