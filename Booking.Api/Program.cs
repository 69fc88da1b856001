using Booking.Api;
using Booking.Api.Capacity;
using Booking.Api.Details;
using Booking.Api.Holds;
using Booking.Api.Http;
using Booking.Api.Idempotency;
using Booking.Api.Reservations;
using Booking.Api.Seats;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddBookingServices();
builder.Services.AddOpenApi();

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseMiddleware<RequestBodyLimit>();
app.UseMiddleware<IdempotencyMiddleware>();

app.MapOpenApi();
app.MapDefaultEndpoints();
app.MapSeatsApi();
app.MapCapacityApi();
app.MapHoldsApi();
app.MapReservationsApi();
app.MapDetailsApi();

app.Run();
