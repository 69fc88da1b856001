using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.Hosting;

public static class MigrationExtensions
{
    /// <summary>
    /// Applies pending migrations; returns the ones applied. The history table is created first with EF's own
    /// idempotent script: on an empty database EF otherwise reads the missing table, and logs that expected
    /// failure as an error ("Failed executing DbCommand") on every fresh start.
    /// </summary>
    public static async Task<IReadOnlyList<string>> ApplyMigrationsAsync(this DatabaseFacade database, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        var history = database.GetService<IHistoryRepository>();
        await using (var transaction = await database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false))
        {
            // Replicas starting together: concurrent CREATE TABLE IF NOT EXISTS can still collide in PostgreSQL.
            await database.ExecuteSqlRawAsync("SELECT pg_advisory_xact_lock(hashtext('__EFMigrationsHistory'))", cancellationToken).ConfigureAwait(false);
            await database.ExecuteSqlRawAsync(history.GetCreateIfNotExistsScript(), cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }

        var pending = (await database.GetPendingMigrationsAsync(cancellationToken).ConfigureAwait(false)).ToList();
        if (pending.Count > 0)
        {
            await database.MigrateAsync(cancellationToken).ConfigureAwait(false);
        }

        return pending;
    }
}

/// <summary>
/// Applies pending EF Core migrations of <typeparamref name="TContext"/> before the service takes traffic (hosted
/// services start before the server listens), and logs which ones it applied.
/// </summary>
public sealed partial class DatabaseMigrator<TContext>(IServiceProvider services, ILogger<DatabaseMigrator<TContext>> logger) : IHostedService
    where TContext : DbContext
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var scope = services.CreateAsyncScope();
        var applied = await scope.ServiceProvider.GetRequiredService<TContext>().Database.ApplyMigrationsAsync(cancellationToken).ConfigureAwait(false);
        if (applied.Count > 0)
        {
            LogMigrated(applied.Count, typeof(TContext).Name, applied);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied {MigrationCount} migrations to {Context}: {Migrations}")]
    private partial void LogMigrated(int migrationCount, string context, IReadOnlyList<string> migrations);
}
