using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;

namespace Booking.Tests.Data;

public sealed class DatabaseClockSyncTests
{
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
