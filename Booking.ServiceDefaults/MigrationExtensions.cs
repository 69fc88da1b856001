using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

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
