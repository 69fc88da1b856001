using Booking.AppHost.Hosting;

namespace Booking.AppHost;

/// <summary>The Booking system's AppHost: the topology below, then run until Ctrl+C.</summary>
public static class BookingAppHost
{
    public static Task<int> Main(string[] args)
    {
        var options = AppHostCommandLine.Parse(args);
        var builder = new DistributedApplicationBuilder(options).AddBookingSystem();
        return AppHostCommandLine.RunAsync(builder.Build(), options);
    }

    /// <summary>
    /// Every resource of the system and what it waits for. With <paramref name="freePorts"/> (tests) services take
    /// any free port instead of the documented defaults 5090, 5080 and 5100.
    /// </summary>
    public static DistributedApplicationBuilder AddBookingSystem(this DistributedApplicationBuilder builder, bool freePorts = false)
    {
        ArgumentNullException.ThrowIfNull(builder);
        int? Port(int preferred) => freePorts ? null : preferred;

        var redis = builder.AddRedis("redis");
        var postgres = builder.AddPostgres("postgres");
        var bookingDb = builder.AddDatabase(postgres, "bookingdb");
        var performanceDb = builder.AddDatabase(postgres, "performancedb");
        var kafka = builder.AddKafka("kafka",
            "booking.reservation.requested",
            "booking.reservation.completed",
            "booking.reservation.failed",
            "booking.reservation.cancelled");

        var performanceStub = builder.AddProject("performance-stub", "Booking.PerformanceStub", Port(5090))
            .WithReference(performanceDb)
            .WithReference(redis)
            .WaitFor(performanceDb)
            .WaitFor(redis);

        // The API loads seat maps from the performance service on first use, so it starts once the stub is healthy.
        var bookingApi = builder.AddProject("booking-api", "Booking.Api", Port(5080))
            .WithReference(redis)
            .WithReference(bookingDb)
            .WithReference(performanceStub)
            .WaitFor(redis)
            .WaitFor(bookingDb)
            .WaitFor(performanceStub);

        // The API owns bookingdb's schema and migrates it at start-up, so the worker starts after the API is healthy.
        builder.AddProject("saga-worker", "Booking.SagaWorker", Port(5100))
            .WithReference(redis)
            .WithReference(bookingDb)
            .WithReference(kafka)
            .WithReference(performanceStub)
            .WaitFor(kafka)
            .WaitFor(bookingApi);

        return builder;
    }
}
