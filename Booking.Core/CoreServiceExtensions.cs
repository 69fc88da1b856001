using Booking.Core.Capacity;
using Booking.Core.Data;
using Booking.Core.Holds;
using Booking.Core.Lua;
using Booking.Core.Seats;
using Microsoft.Extensions.Options;

namespace Booking.Core;

public static class CoreServiceExtensions
{
    /// <summary>
    /// Redis (<c>redis</c>) with the Lua engine, PostgreSQL (<c>bookingdb</c>) with the booking model, and the
    /// <c>Booking</c> options: what both the API and the saga worker stand on.
    /// </summary>
    public static IHostApplicationBuilder AddBookingCore(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);

        builder.AddRedisClient("redis");
        builder.AddBookingDbContext<BookingDbContext>("bookingdb");

        builder.Services.AddOptions<BookingOptions>()
            .BindConfiguration(BookingOptions.SectionName)
            // Renamed when it came to cover capacity slots too: an old setting must not be ignored without a word.
            .Validate(_ => builder.Configuration["Booking:IdleSeatStateLifetime"] is null,
                "Booking:IdleSeatStateLifetime is now Booking:IdleStateLifetime (it covers capacity slots too): rename the setting.")
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<BookingOptions>, BookingOptionsValidator>();

        // One clock for the whole system: PostgreSQL's (see DatabaseClock). Hold expiry is judged by Redis's, in Lua.
        builder.Services.AddKeyedSingleton(DatabaseClock.LocalClockKey, TimeProvider.System);
        builder.Services.AddSingleton(sp => new DatabaseClock(sp.GetRequiredKeyedService<TimeProvider>(DatabaseClock.LocalClockKey)));
        builder.Services.AddSingleton<TimeProvider>(sp => sp.GetRequiredService<DatabaseClock>());
        builder.Services.AddHostedService<DatabaseClockSync>();
        builder.Services.AddSingleton<LuaScripts>();
        builder.Services.AddSingleton<LuaRunner>();
        builder.Services.AddHostedService<LuaScriptLoader>();
        builder.Services.AddSingleton<HoldEngine>();
        builder.Services.AddSingleton<SeatEngine>();
        builder.Services.AddSingleton<CapacityEngine>();
        builder.Services.AddSingleton<ResourceRegistry>();

        return builder;
    }
}
