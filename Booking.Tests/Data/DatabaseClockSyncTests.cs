using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;

namespace Booking.Tests.Data;

public sealed class DatabaseClockSyncTests(Dependencies dependencies)
{
    [Fact]
    public async Task A_database_that_is_down_at_start_up_is_read_within_seconds_of_coming_up_not_a_minute_later()
    {
        // This process's clock is an hour slow, so a measured offset cannot be mistaken for the zero of none.
        var skew = TimeSpan.FromHours(-1);
        string closedPort;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            closedPort = $"Host=127.0.0.1;Port={((IPEndPoint)listener.LocalEndpoint).Port};Username=booking;Password=unused;Database=bookingdb;Timeout=3;Pooling=false";
        }

        var connectionString = closedPort;
        await using var services = new ServiceCollection()
            .AddDbContext<BookingDbContext>(options => options.UseNpgsql(Volatile.Read(ref connectionString)).UseSnakeCaseNamingConvention())
            .BuildServiceProvider();
        var clock = new DatabaseClock(new ShiftedClock(skew));
        using var sync = new DatabaseClockSync(clock, services.GetRequiredService<IServiceScopeFactory>(), NullLogger<DatabaseClockSync>.Instance);

        // The first reading is refused: the host starts with no offset.
        await sync.StartAsync(TestContext.Current.CancellationToken);
        Assert.Equal(TimeSpan.Zero, clock.Offset);

        // The database comes up (each reading opens a new scope, so it connects to where the database is now).
        Volatile.Write(ref connectionString, await dependencies.CreateDatabaseAsync("clocksync"));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((clock.Offset + skew).Duration() > TimeSpan.FromSeconds(5))
        {
            Assert.True(DateTime.UtcNow < deadline, $"The offset is {clock.Offset} 30 s after the database came up, not about {-skew}.");
            await Task.Delay(200, TestContext.Current.CancellationToken);
        }

        await sync.StopAsync(TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task A_database_that_takes_the_connection_and_never_answers_leaves_the_offset_at_zero_and_the_start_up_going()
    {
        // The kernel accepts connections into the backlog; nothing ever answers PostgreSQL's start-up message.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;
        await using var services = new ServiceCollection()
            .AddDbContext<BookingDbContext>(options => options
                .UseNpgsql($"Host=127.0.0.1;Port={port};Username=booking;Password=unused;Database=bookingdb;Timeout=8;Pooling=false")
                .UseSnakeCaseNamingConvention())
            .BuildServiceProvider();
        var clock = new DatabaseClock(TimeProvider.System);
        using var sync = new DatabaseClockSync(clock, services.GetRequiredService<IServiceScopeFactory>(), NullLogger<DatabaseClockSync>.Instance);

        // The connection times out after the first reading's own limit (5 s) has passed: that failure too is logged, not
        // thrown, so the host starts.
        await sync.StartAsync(TestContext.Current.CancellationToken);
        await sync.StopAsync(TestContext.Current.CancellationToken);

        Assert.Equal(TimeSpan.Zero, clock.Offset);
    }
}
