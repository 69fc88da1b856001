using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Microsoft.Extensions.Hosting;

/// <summary>The Aspire client integrations with the Booking platform's conventions, in one place.</summary>
public static class DataClientExtensions
{
    /// <summary>Prepared statements kept per connection (Npgsql's <c>Max Auto Prepare</c>).</summary>
    public const int MaxPreparedStatements = 100;

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
            settings =>
            {
                settings.DisableRetry = true;
                // Pooled connections skip the DISCARD ALL that Npgsql otherwise runs when one goes back to the pool:
                // it is a transaction of its own for every open and close. The services
                // change no session state on pooled connections; the relay's advisory lock has a connection of its own.
                // The statements of the booking path (a handful, run thousands of times) are prepared on each
                // connection once they were seen twice, so PostgreSQL parses and plans each of them once per connection.
                if (settings.ConnectionString is { Length: > 0 } connectionString)
                {
                    settings.ConnectionString = new NpgsqlConnectionStringBuilder(connectionString)
                    {
                        NoResetOnClose = true,
                        MaxAutoPrepare = MaxPreparedStatements,
                        AutoPrepareMinUsages = 2,
                    }.ConnectionString;
                }
            },
            options => options.UseSnakeCaseNamingConvention());
        return builder;
    }
}
