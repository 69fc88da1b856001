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
    public Guid PerformanceId { get; set; }
    public required string Code { get; set; }
    public int Rows { get; set; }
    public int SeatsPerRow { get; set; }
    public int Capacity { get; set; }
    public int Remaining { get; set; }
}

/// <summary>The performance service's own database (<c>performancedb</c>).</summary>
public sealed class PerformanceDbContext(DbContextOptions<PerformanceDbContext> options) : DbContext(options)
{
    public DbSet<Performance> Performances => Set<Performance>();
    public DbSet<Section> Sections => Set<Section>();

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
            section.Property(s => s.Code).HasMaxLength(8);
        });
    }
}
