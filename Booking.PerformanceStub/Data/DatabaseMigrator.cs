using Microsoft.EntityFrameworkCore;

namespace Booking.PerformanceStub.Data;

/// <summary>Applies pending migrations to <c>performancedb</c> before the service takes traffic.</summary>
public sealed class DatabaseMigrator(IServiceProvider services) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var scope = services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<PerformanceDbContext>().Database.ApplyMigrationsAsync(cancellationToken).ConfigureAwait(false);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
