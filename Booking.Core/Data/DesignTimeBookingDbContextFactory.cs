using Microsoft.EntityFrameworkCore;

namespace Booking.Core.Data;

public sealed class DesignTimeBookingDbContextFactory() : DesignTimeDbContextFactory<BookingDbContext>("bookingdb")
{
    protected override BookingDbContext Create(DbContextOptions<BookingDbContext> options) => new(options);
}
