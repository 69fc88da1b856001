using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Booking.Tests.Data;

public sealed class MigrationTests(Dependencies dependencies)
{
    [Fact]
    public async Task A_fresh_database_is_migrated_without_an_error_in_the_log_and_a_second_run_applies_nothing()
    {
        var errors = new ConcurrentQueue<string>();
        using var logging = LoggerFactory.Create(builder => builder.AddProvider(new ErrorCollector(errors)));
        var connectionString = await dependencies.CreateDatabaseAsync("migrate");
        DbContextOptions<BookingDbContext> Options() => new DbContextOptionsBuilder<BookingDbContext>()
            .UseNpgsql(connectionString).UseSnakeCaseNamingConvention().UseLoggerFactory(logging).Options;

        await using (var db = new BookingDbContext(Options()))
        {
            var applied = await db.Database.ApplyMigrationsAsync(TestContext.Current.CancellationToken);
            Assert.NotEmpty(applied);
            Assert.Equal(0, await db.Reservations.CountAsync(TestContext.Current.CancellationToken));
        }

        await using (var db = new BookingDbContext(Options()))
        {
            Assert.Empty(await db.Database.ApplyMigrationsAsync(TestContext.Current.CancellationToken));
        }

        Assert.Empty(errors);
    }

    [Fact]
    public void Each_model_matches_its_migrations_so_no_change_ships_without_one()
    {
        using var booking = new DesignTimeBookingDbContextFactory().CreateDbContext([]);
        Assert.False(booking.Database.HasPendingModelChanges(), "The bookingdb model changed without a migration (README: Schema changes).");
        using var performance = new Booking.PerformanceStub.Data.DesignTimePerformanceDbContextFactory().CreateDbContext([]);
        Assert.False(performance.Database.HasPendingModelChanges(), "The performancedb model changed without a migration.");
    }

    private sealed class ErrorCollector(ConcurrentQueue<string> errors) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, errors);

        public void Dispose()
        {
        }

        private sealed class Logger(string category, ConcurrentQueue<string> errors) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (IsEnabled(logLevel))
                {
                    errors.Enqueue($"{category}: {formatter(state, exception)}");
                }
            }
        }
    }
}
