using Booking.AppHost;
using Booking.AppHost.Hosting;

var options = AppHostCommandLine.Parse(args);
var builder = new DistributedApplicationBuilder(options);

var redis = builder.AddRedis("redis");
var postgres = builder.AddPostgres("postgres");
var bookingDb = builder.AddDatabase(postgres, "bookingdb");
var performanceDb = builder.AddDatabase(postgres, "performancedb");
var kafka = builder.AddKafka("kafka",
    "booking.reservation.requested",
    "booking.reservation.completed",
    "booking.reservation.failed",
    "booking.reservation.cancelled");

var performanceStub = builder.AddProject("performance-stub", "Booking.PerformanceStub", port: 5090)
    .WithReference(performanceDb)
    .WithReference(redis)
    .WaitFor(performanceDb)
    .WaitFor(redis);

// The API loads seat maps from the performance service on first use, so it starts once the stub is healthy.
var bookingApi = builder.AddProject("booking-api", "Booking.Api", port: 5080)
    .WithReference(redis)
    .WithReference(bookingDb)
    .WithReference(performanceStub)
    .WaitFor(redis)
    .WaitFor(bookingDb)
    .WaitFor(performanceStub);

// The API owns bookingdb's schema and migrates it at start-up, so the worker starts after the API is healthy.
builder.AddProject("saga-worker", "Booking.SagaWorker", port: 5100)
    .WithReference(redis)
    .WithReference(bookingDb)
    .WithReference(kafka)
    .WithReference(performanceStub)
    .WaitFor(kafka)
    .WaitFor(bookingApi);

await using var app = builder.Build();
return await AppHostCommandLine.RunAsync(app, options);
