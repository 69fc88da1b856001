using Booking.Api.Capacity;
using Booking.Api.Holds;
using Booking.Api.Http;
using Booking.Api.Seats;
using Booking.Core;
using Booking.Core.Data;
using Booking.Core.Holds;
using Microsoft.Extensions.Options;

namespace Booking.Api;

public static class BookingServicesExtensions
{
    /// <summary>Everything the booking service needs beyond the service defaults.</summary>
    public static IHostApplicationBuilder AddBookingServices(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);

        builder.AddBookingCore();
        builder.AddBookingAuthentication();
        if (builder.Configuration.GetValue<bool>(CallerIdentity.TrustedGatewaySetting))
        {
            builder.Services.AddAuthentication().AddTrustedGateway();
            builder.Services.Configure<Microsoft.AspNetCore.Authorization.AuthorizationOptions>(options =>
            {
                // Both ways of naming the caller count for the user policy and the fallback (a path that matches
                // none is a 404 to the gateway's caller, as to a bearer's): a bearer token, or the gateway's header.
                string[] schemes = [Microsoft.AspNetCore.Authentication.JwtBearer.JwtBearerDefaults.AuthenticationScheme, CallerIdentity.TrustedGatewayHandler.SchemeName];
                var user = options.GetPolicy(BookingAuthentication.UserPolicy)!;
                options.AddPolicy(BookingAuthentication.UserPolicy, policy => policy.Combine(user).AddAuthenticationSchemes(schemes));
                options.FallbackPolicy = new Microsoft.AspNetCore.Authorization.AuthorizationPolicyBuilder(schemes).Combine(options.FallbackPolicy!).Build();
            });
        }

        builder.Services.AddHoldRateLimit();
        builder.AddDatabaseMigrator<BookingDbContext>();
        builder.Services.AddHostedService<HoldSweeper>();
        builder.Services.AddSingleton<Reservations.ReservationCommitter>();
        builder.Services.AddHostedService(services => services.GetRequiredService<Reservations.ReservationCommitter>());

        builder.Services.AddHttpClient<PerformanceClient>(http => http.BaseAddress = new Uri($"http://{PerformanceClient.ServiceName}"))
            .AddHttpMessageHandler<ServiceTokenHandler>();
        builder.Services.AddScoped<SeatStateLoader>();
        // The hold strategy is chosen here, once: the naive one exists only for the benchmark's comparison.
        builder.Services.AddSingleton<ISeatHolder>(services => services.GetRequiredService<IOptions<BookingOptions>>().Value.HoldStrategy == HoldStrategy.Naive
            ? ActivatorUtilities.CreateInstance<NaiveSeatHolder>(services)
            : ActivatorUtilities.CreateInstance<LuaSeatHolder>(services));
        builder.Services.AddSingleton<Idempotency.IdempotencyStore>();
        builder.Services.AddScoped<CapacityStateLoader>();
        builder.Services.AddScoped<HoldService>();

        builder.Services.ConfigureHttpJsonOptions(options => BookingJson.Configure(options.SerializerOptions));
        ProblemExceptionHandler.AddBookingProblemDetails(builder.Services);

        return builder;
    }
}
