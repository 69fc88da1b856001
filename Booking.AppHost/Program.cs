using Booking.AppHost;
using Booking.AppHost.Hosting;

var options = AppHostCommandLine.Parse(args);
var builder = new DistributedApplicationBuilder(options);

var redis = builder.AddRedis("redis");
var postgres = builder.AddPostgres("postgres");
var bookingDb = builder.AddDatabase(postgres, "bookingdb");
var performanceDb = builder.AddDatabase(postgres, "performancedb");

var performanceStub = builder.AddProject("performance-stub", "Booking.PerformanceStub", port: 5090)
    .WithReference(performanceDb)
    .WithReference(redis)
    .WaitFor(performanceDb)
    .WaitFor(redis);

// The API loads seat maps from the performance service on first use, so it starts once the stub is healthy.
builder.AddProject("booking-api", "Booking.Api", port: 5080)
    .WithReference(redis)
    .WithReference(bookingDb)
    .WithReference(performanceStub)
    .WaitFor(redis)
    .WaitFor(bookingDb)
    .WaitFor(performanceStub);

await using var app = builder.Build();
return await AppHostCommandLine.RunAsync(app, options);
