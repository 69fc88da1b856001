using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Lets <c>dotnet ef migrations add</c> build a context's model without a running database, with the provider and
/// naming convention the services use (<see cref="DataClientExtensions.AddBookingDbContext{TContext}"/>).
/// </summary>
public abstract class DesignTimeDbContextFactory<TContext>(string database) : IDesignTimeDbContextFactory<TContext>
    where TContext : DbContext
{
    public TContext CreateDbContext(string[] args) => Create(
        new DbContextOptionsBuilder<TContext>()
            .UseNpgsql($"Host=localhost;Database={database}")
            .UseSnakeCaseNamingConvention()
            .Options);

    protected abstract TContext Create(DbContextOptions<TContext> options);
}
