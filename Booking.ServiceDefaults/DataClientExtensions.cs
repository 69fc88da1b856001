using Microsoft.EntityFrameworkCore;

namespace Microsoft.Extensions.Hosting;

/// <summary>The Aspire client integrations with the Booking platform's conventions, in one place.</summary>
public static class DataClientExtensions
{
    /// <summary>
    /// A pooled EF Core context on <c>ConnectionStrings:{connectionName}</c> through Aspire's Npgsql EF integration
    /// (health check, tracing, metrics), snake_case names. Its retrying execution strategy is off: the services run
    /// explicit transactions (reservation + saga + outbox row in one), which that strategy refuses, and the saga
    /// already retries with backoff and a deadline.
    /// </summary>
    public static IHostApplicationBuilder AddBookingDbContext<TContext>(this IHostApplicationBuilder builder, string connectionName)
        where TContext : DbContext
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddNpgsqlDbContext<TContext>(
            connectionName,
            settings => settings.DisableRetry = true,
            options => options.UseSnakeCaseNamingConvention());
        return builder;
    }
}
