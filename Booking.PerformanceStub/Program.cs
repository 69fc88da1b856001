using System.Text.Json;
using System.Text.Json.Serialization;
using Booking.PerformanceStub.Allocations;
using Booking.PerformanceStub.Chaos;
using Booking.PerformanceStub.Data;
using Booking.PerformanceStub.Performances;
using Scalar.AspNetCore;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddBookingDbContext<PerformanceDbContext>("performancedb");
builder.AddRedisClient("redis");
builder.AddBookingAuthentication();
builder.Services.AddSingleton<SectionLock>();
builder.Services.AddSingleton<SectionAllocator>();
builder.Services.AddSingleton<ChaosSettings>();
builder.Services.AddOpenApi();
builder.AddDatabaseMigrator<PerformanceDbContext>();
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.ConfigureHttpJsonOptions(options =>
    options.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseUpper, allowIntegerValues: false)));
ProblemExceptionHandler.AddBookingProblemDetails(builder.Services);

var app = builder.Build();

app.UseRequestChecks();

app.MapOpenApi().AllowAnonymous();
// The API reference (Scalar over /openapi/v1.json), linked from the service's row in the Aspire dashboard.
app.MapScalarApiReference().AllowAnonymous();
app.MapDefaultEndpoints();
app.MapPerformancesApi();
app.MapAllocationsApi();
// Fault injection exists only where switched on explicitly (the fault tests' AppHost), never by default.
if (app.Configuration.GetValue<bool>("Chaos:Enabled"))
{
    app.MapChaosApi();
}

app.RunService();
