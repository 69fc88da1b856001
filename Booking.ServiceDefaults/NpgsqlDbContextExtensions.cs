using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.Extensions.Hosting;

/// <summary>Registers a pooled EF Core context on PostgreSQL the way Aspire's Npgsql EF integration does.</summary>
public static class NpgsqlDbContextExtensions
{
    public static IHostApplicationBuilder AddNpgsqlDbContext<TContext>(
        this IHostApplicationBuilder builder,
        string connectionName,
        Action<DbContextOptionsBuilder>? configure = null)
        where TContext : DbContext
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(connectionName);

        var connectionString = builder.Configuration.GetConnectionString(connectionName)
            ?? throw new InvalidOperationException(
                $"ConnectionStrings:{connectionName} is missing. Run the system through Booking.AppHost or set ConnectionStrings__{connectionName}.");

        builder.Services.AddDbContextPool<TContext>(options =>
        {
            options.UseNpgsql(connectionString).UseSnakeCaseNamingConvention();
            configure?.Invoke(options);
        });

        builder.Services.AddHealthChecks().AddNpgSql(connectionString, name: connectionName);

        return builder;
    }
}
