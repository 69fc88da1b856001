using Booking.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Booking.Tests.Hosting;

public sealed class BookingOptionsTests
{
    [Theory]
    [InlineData("HoldTtl", "00:00:00")]
    [InlineData("ReservedHoldLease", "00:00:00")]
    [InlineData("BookedHoldRetention", "-00:00:01")]
    [InlineData("SagaTimeout", "00:00:00")]
    [InlineData("SweepInterval", "00:00:00")]
    [InlineData("IdempotencyLease", "00:00:00")]
    [InlineData("IdempotencyRetention", "00:00:00")]
    [InlineData("IdempotencyBytesPerUser", "0")]
    [InlineData("HoldsPerSecondPerUser", "0")]
    [InlineData("MaxSeatsPerHold", "-1")]
    [InlineData("IdleStateLifetime", "-00:00:01")]
    [InlineData("IdleStateLifetime", "00:00:00.500")]
    [InlineData("IdempotencyLease", "00:00:00.002")]
    [InlineData("SweepInterval", "60.00:00:00")]
    public void A_setting_out_of_its_range_stops_the_start_and_is_named(string setting, string value)
    {
        using var host = Build(new() { [$"Booking:{setting}"] = value });

        var failure = Assert.Throws<OptionsValidationException>(() => host.Services.GetRequiredService<IOptions<BookingOptions>>().Value);
        Assert.Contains($"Booking:{setting} must be", Assert.Single(failure.Failures), StringComparison.Ordinal);
    }

    [Fact]
    public void The_defaults_and_an_idle_state_lifetime_of_zero_are_in_range()
    {
        using var host = Build(new() { ["Booking:IdleStateLifetime"] = "00:00:00" });

        Assert.Equal(TimeSpan.Zero, host.Services.GetRequiredService<IOptions<BookingOptions>>().Value.IdleStateLifetime);
    }

    /// <summary>The services' own registration (nothing connects: options are read before any client is made).</summary>
    private static IHost Build(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(settings)
        {
            ["ConnectionStrings:redis"] = "127.0.0.1:1,abortConnect=false",
            ["ConnectionStrings:bookingdb"] = "Host=127.0.0.1;Port=1;Database=none;Username=none",
        });
        builder.AddBookingCore();
        return builder.Build();
    }
}
