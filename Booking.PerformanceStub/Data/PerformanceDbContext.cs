using Microsoft.EntityFrameworkCore;

namespace Booking.PerformanceStub.Data;

public sealed class Performance
{
    public Guid Id { get; set; }
    public required string Title { get; set; }
    public DateTimeOffset StartsAt { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public List<Section> Sections { get; set; } = [];
}

/// <summary>A section of a performance. <see cref="Remaining"/> changes only under the section's lock.</summary>
public sealed class Section
{
    /// <summary>A section's code: 1 to this many ASCII letters or digits.</summary>
    public const int MaxCodeLength = 8;

    public Guid PerformanceId { get; set; }
    public required string Code { get; set; }
    public int Rows { get; set; }
    public int SeatsPerRow { get; set; }
    public int Capacity { get; set; }
    public int Remaining { get; set; }
}

public enum AllocationState
{
    Allocated,
    Released,
}

/// <summary>
/// Seats of one section allocated to one reservation. A released allocation stays as a tombstone, so an allocation
/// request that arrives after its compensation (a retried or delayed call) cannot take the seats again.
/// </summary>
public sealed class Allocation
{
    public Guid PerformanceId { get; set; }
    public required string SectionCode { get; set; }
    public Guid ReservationId { get; set; }
    public int Seats { get; set; }
    public AllocationState State { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>The performance service's own database (<c>performancedb</c>).</summary>
public sealed class PerformanceDbContext(DbContextOptions<PerformanceDbContext> options) : DbContext(options)
{
    public DbSet<Performance> Performances => Set<Performance>();
    public DbSet<Section> Sections => Set<Section>();
    public DbSet<Allocation> Allocations => Set<Allocation>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<Performance>(performance =>
        {
            performance.ToTable("performances");
            performance.HasKey(p => p.Id);
            performance.Property(p => p.Title).HasMaxLength(200);
            performance.HasMany(p => p.Sections).WithOne().HasForeignKey(s => s.PerformanceId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<Section>(section =>
        {
            section.ToTable("sections", table => table.HasCheckConstraint("ck_sections_remaining", "remaining >= 0 AND remaining <= capacity"));
            section.HasKey(s => new { s.PerformanceId, s.Code });
            section.Property(s => s.Code).HasMaxLength(Section.MaxCodeLength);
        });

        modelBuilder.Entity<Allocation>(allocation =>
        {
            allocation.ToTable("allocations");
            allocation.HasKey(a => new { a.PerformanceId, a.SectionCode, a.ReservationId });
            allocation.Property(a => a.SectionCode).HasMaxLength(Section.MaxCodeLength);
            allocation.Property(a => a.State).HasConversion(v => Stored(v), v => Enum.Parse<AllocationState>(v, true)).HasMaxLength(16);
        });
    }

    /// <summary>How an allocation's state is stored: its UPPER name (statements written by hand use it too).</summary>
    public static string Stored(AllocationState state) => state.ToString().ToUpperInvariant();
}
