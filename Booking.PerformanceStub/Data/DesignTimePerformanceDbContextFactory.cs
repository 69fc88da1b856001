using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Booking.PerformanceStub.Data;

/// <summary>Lets <c>dotnet ef migrations add</c> build the model without a running database.</summary>
public sealed class DesignTimePerformanceDbContextFactory : IDesignTimeDbContextFactory<PerformanceDbContext>
{
    public PerformanceDbContext CreateDbContext(string[] args) => new(
        new DbContextOptionsBuilder<PerformanceDbContext>()
            .UseNpgsql("Host=localhost;Database=performancedb")
            .UseSnakeCaseNamingConvention()
            .Options);
}
