using Microsoft.EntityFrameworkCore;

namespace Booking.PerformanceStub.Data;

public sealed class DesignTimePerformanceDbContextFactory() : DesignTimeDbContextFactory<PerformanceDbContext>("performancedb")
{
    protected override PerformanceDbContext Create(DbContextOptions<PerformanceDbContext> options) => new(options);
}
