using Booking.Core.Data;
using Microsoft.EntityFrameworkCore;

namespace Booking.Api.Data;

/// <summary>
/// Applies pending EF Core migrations to <c>bookingdb</c> before the API takes traffic. The API owns the schema;
/// the saga worker starts after it (the AppHost waits for the API to be healthy).
/// </summary>
public sealed partial class DatabaseMigrator(IServiceProvider services, ILogger<DatabaseMigrator> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BookingDbContext>();
        var applied = await db.Database.ApplyMigrationsAsync(cancellationToken).ConfigureAwait(false);
        if (applied.Count > 0)
        {
            LogMigrated(applied.Count, string.Join(", ", applied));
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied {MigrationCount} migrations: {Migrations}")]
    private partial void LogMigrated(int migrationCount, string migrations);
}
