using Booking.SagaWorker;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddSagaWorker();

var app = builder.Build();

app.MapDefaultEndpoints();

app.RunService();
