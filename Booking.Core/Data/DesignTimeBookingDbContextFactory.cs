using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Booking.Core.Data;

/// <summary>Lets <c>dotnet ef migrations add</c> build the model without a running database.</summary>
public sealed class DesignTimeBookingDbContextFactory : IDesignTimeDbContextFactory<BookingDbContext>
{
    public BookingDbContext CreateDbContext(string[] args) => new(
        new DbContextOptionsBuilder<BookingDbContext>()
            .UseNpgsql("Host=localhost;Database=bookingdb")
            .UseSnakeCaseNamingConvention()
            .Options);
}
