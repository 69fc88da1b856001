using Booking.Api;
using Booking.Api.Capacity;
using Booking.Api.Details;
using Booking.Api.Holds;
using Booking.Api.Http;
using Booking.Api.Idempotency;
using Booking.Api.Reservations;
using Booking.Api.Seats;
using Scalar.AspNetCore;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddBookingServices();
builder.Services.AddOpenApi(OpenApiDocumentation.Describe);

var app = builder.Build();

// Before the idempotency check, whose fingerprint then reads the seekable copy of the body the text check makes.
app.UseRequestChecks();
// After authentication: keys are stored per caller, and only for authenticated ones. Before the rate limiter: a
// replay is answered from the store without spending the caller's rate, and a 429 is never stored (see the middleware).
app.UseMiddleware<IdempotencyMiddleware>();
app.UseRateLimiter();

app.MapOpenApi().AllowAnonymous();
// The API reference (Scalar over /openapi/v1.json), linked from the service's row in the Aspire dashboard.
app.MapScalarApiReference().AllowAnonymous();
app.MapDefaultEndpoints();
app.MapSeatsApi();
app.MapCapacityApi();
app.MapHoldsApi();
app.MapReservationsApi();
app.MapDetailsApi();

app.RunService();
