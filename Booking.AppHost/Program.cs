using Booking.AppHost.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

var builder = DistributedApplication.CreateBuilder(args);
// The AppHost ends, giving the data directory's lock back, only once DCP has stopped what it started (Aspire waits so
// in tests alone by default): an AppHost started right after could otherwise start its stores beside the old ones.
builder.Configuration["DcpPublisher:WaitForResourceCleanup"] ??= "true";
var settings = AppHostSettings.From(builder.Configuration, builder.AppHostDirectory);
builder.Services.AddSingleton(settings);
builder.Services.AddHostedService<ResourceSummary>();
DashboardAccess.RequireLoopbackForAnonymous(builder.Configuration);

// Held until the AppHost ends: before --fresh deletes anything, and before any store starts on the directory.
DataDirectoryLock? dataLock;
try
{
    dataLock = await DataDirectoryLock.TakeAsync(settings.DataDirectory, DataDirectoryLock.Patience,
        () => Console.WriteLine($"Waiting up to {DataDirectoryLock.Patience.TotalSeconds:0} s for the AppHost using {settings.DataDirectory} to stop"));
}
catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
{
    await Console.Error.WriteLineAsync(DataDirectoryLock.Unusable(settings.DataDirectory, exception));
    return 1;
}

if (dataLock is null)
{
    await Console.Error.WriteLineAsync(DataDirectoryLock.Refusal(settings.DataDirectory));
    return 1;
}

using var heldLock = dataLock;

if (settings.Fresh)
{
    // scripts/run.sh --fresh: before any generated secret is read or any store starts.
    foreach (var deleted in DataStores.DeleteData(settings.DataDirectory, "redis", "postgres"))
    {
        Console.WriteLine($"--fresh: deleted {deleted}");
    }
}

// The key the services sign their own tokens with and check every token against (with dotnet user-jwts' in Development).
var signingKey = builder.AddParameter("auth-signing-key", PersistedSecret.SigningKey(settings.DataDirectory, "auth-signing-key"), secret: true);

var stores = new DataStores(builder, settings);
var redis = stores.AddRedis("redis");
var (bookingDb, performanceDb) = stores.AddPostgres("postgres", "bookingdb", "performancedb");
var kafka = stores.AddKafka("kafka",
    "booking.reservation.requested",
    "booking.reservation.completed",
    "booking.reservation.failed",
    "booking.reservation.cancelled");
if (stores.MissingPrograms.Count > 0)
{
    await Console.Error.WriteLineAsync(stores.Refusal());
    return 1;
}

var performanceStub = builder.AddProject<Projects.Booking_PerformanceStub>("performance-stub", launchProfileName: null)
    .WithServiceDefaults(settings, port: 5090, signingKey)
    .WithApiReference()
    .WithEnvironment("Chaos__Enabled", settings.Chaos ? "true" : "false")
    .WithReference(performanceDb).WaitFor(performanceDb)
    .WithReference(redis).WaitFor(redis);

// The API loads seat maps from the performance service on first use, so it starts once the stub is healthy.
var bookingApi = builder.AddProject<Projects.Booking_Api>("booking-api", launchProfileName: null)
    .WithServiceDefaults(settings, port: 5080, signingKey)
    .WithApiReference()
    .WithReference(redis).WaitFor(redis)
    .WithReference(bookingDb).WaitFor(bookingDb)
    .WithReference(performanceStub).WaitFor(performanceStub);

// The API owns bookingdb's schema and migrates it at start-up, so the worker starts after the API is healthy.
builder.AddProject<Projects.Booking_SagaWorker>("saga-worker", launchProfileName: null)
    .WithServiceDefaults(settings, port: 5100, signingKey)
    .WithReference(redis)
    .WithReference(bookingDb)
    .WithReference(kafka).WaitFor(kafka)
    .WithReference(performanceStub)
    .WaitFor(bookingApi);

await builder.Build().RunAsync();
return 0;
