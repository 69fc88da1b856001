using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.Hosting;

public static class MigrationExtensions
{
    /// <summary>Migrates <typeparamref name="TContext"/>'s database at start-up (<see cref="DatabaseMigrator{TContext}"/>), with its health check.</summary>
    public static IHostApplicationBuilder AddDatabaseMigrator<TContext>(this IHostApplicationBuilder builder)
        where TContext : DbContext
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddSingleton<DatabaseMigrator<TContext>>();
        builder.Services.AddHostedService(services => services.GetRequiredService<DatabaseMigrator<TContext>>());
        builder.Services.AddHealthChecks().AddCheck<MigrationsHealthCheck<TContext>>($"{typeof(TContext).Name}-migrations");
        builder.Services.AddTransient<IStartupFilter, MigrationGate<TContext>>();
        return builder;
    }

    /// <summary>
    /// Until the migrations are applied, every request but health's is a 503: the tables it would use may not be there
    /// yet (a missing table is a statement PostgreSQL refuses, which would be a 500).
    /// </summary>
    private sealed class MigrationGate<TContext>(DatabaseMigrator<TContext> migrator) : IStartupFilter
        where TContext : DbContext
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(async (context, rest) =>
            {
                if (migrator.Applied
                    || context.Request.Path.StartsWithSegments(ServiceDefaultsExtensions.HealthEndpointPath)
                    || context.Request.Path.StartsWithSegments(ServiceDefaultsExtensions.AlivenessEndpointPath))
                {
                    await rest(context).ConfigureAwait(false);
                    return;
                }

                await context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteProblemAsync(context, StatusCodes.Status503ServiceUnavailable,
                    "A dependency is unavailable", "The database is not ready yet; try again.", ProblemCodes.DependencyUnavailable).ConfigureAwait(false);
            });
            next(app);
        };
    }

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
/// services start before the server listens), and logs which ones it applied. A PostgreSQL that does not answer does
/// not stop the service: it starts anyway (every request but health's answers 503, and <c>/health</c> is Unhealthy,
/// until the migrations are applied) and the migrations are tried again in the background until they apply. Any other
/// failure (a migration PostgreSQL refuses) stops the service, at start-up or later.
/// </summary>
public sealed partial class DatabaseMigrator<TContext>(IServiceProvider services, ILogger<DatabaseMigrator<TContext>> logger) : BackgroundService
    where TContext : DbContext
{
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan LongestRetryDelay = TimeSpan.FromSeconds(5);

    private volatile bool _applied;

    /// <summary>Whether the database has every migration of this build.</summary>
    public bool Applied => _applied;

    /// <summary>The first try, before the service takes traffic; the retries (<see cref="ExecuteAsync"/>) only where it found PostgreSQL away.</summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!await TryMigrateAsync(cancellationToken).ConfigureAwait(false))
        {
            await base.StartAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var delay = FirstRetryDelay;
        try
        {
            do
            {
                await Task.Delay(delay, stoppingToken).ConfigureAwait(false);
                delay = RetryDelay.Doubled(delay, LongestRetryDelay);
            }
            while (!await TryMigrateAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception exception)
        {
            // Not an outage (a migration PostgreSQL refuses): the service stops, as at its first try.
            LogMigrationFailed(exception, typeof(TContext).Name);
            throw;
        }
    }

    /// <summary>False when PostgreSQL did not answer; any other failure is thrown.</summary>
    private async Task<bool> TryMigrateAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var scope = services.CreateAsyncScope();
            var applied = await scope.ServiceProvider.GetRequiredService<TContext>().Database.ApplyMigrationsAsync(cancellationToken).ConfigureAwait(false);
            if (applied.Count > 0)
            {
                LogMigrated(applied.Count, typeof(TContext).Name, applied);
            }

            _applied = true;
            return true;
        }
        catch (Exception exception) when (!cancellationToken.IsCancellationRequested
            && ProblemExceptionHandler.Classify(exception).Status == StatusCodes.Status503ServiceUnavailable)
        {
            LogPostgresAway(exception, typeof(TContext).Name);
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied {MigrationCount} migrations to {Context}: {Migrations}")]
    private partial void LogMigrated(int migrationCount, string context, IReadOnlyList<string> migrations);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not migrate {Context}: PostgreSQL did not answer; the service runs without it (503s) and tries again")]
    private partial void LogPostgresAway(Exception exception, string context);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Migrating {Context} failed; the service stops")]
    private partial void LogMigrationFailed(Exception exception, string context);
}

/// <summary>The health check of a <see cref="DatabaseMigrator{TContext}"/>: Unhealthy until its migrations are applied.</summary>
public sealed class MigrationsHealthCheck<TContext>(DatabaseMigrator<TContext> migrator) : IHealthCheck
    where TContext : DbContext
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(migrator.Applied
            ? HealthCheckResult.Healthy()
            : HealthCheckResult.Unhealthy($"The migrations of {typeof(TContext).Name} are not applied yet."));
}
