using System.Security.Cryptography;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Booking.Tests.Http;

/// <summary>Which key may sign a token of which issuer, through the bearer options a service really builds.</summary>
public sealed class SigningKeyTests
{
    private static readonly string DeveloperKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    [Theory]
    [InlineData("booking", false, true)]
    [InlineData("booking", true, false)]
    [InlineData("dotnet-user-jwts", true, true)]
    public async Task A_token_of_the_platforms_issuer_is_valid_only_with_the_platforms_key(string issuer, bool developerKey, bool valid)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            [BookingAuthentication.SigningKeySetting] = TestTokens.SigningKey,
            // As dotnet user-jwts writes a key into the user secrets: here one for the platform's own issuer.
            ["Authentication:Schemes:Bearer:ValidIssuer"] = "dotnet-user-jwts",
            ["Authentication:Schemes:Bearer:SigningKeys:0:Issuer"] = "booking",
            ["Authentication:Schemes:Bearer:SigningKeys:0:Value"] = DeveloperKey,
        });
        builder.AddBookingAuthentication();
        using var host = builder.Build();
        var options = host.Services.GetRequiredService<IOptionsMonitor<JwtBearerOptions>>().Get(JwtBearerDefaults.AuthenticationScheme);

        var key = developerKey ? new SymmetricSecurityKey(Convert.FromBase64String(DeveloperKey)) : BookingAuthentication.SigningKey(TestTokens.SigningKey);
        var token = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = BookingAuthentication.Audience,
            Claims = new Dictionary<string, object>(StringComparer.Ordinal)
            {
                [BookingAuthentication.SubjectClaim] = "developer",
                [BookingAuthentication.RoleClaim] = BookingAuthentication.ServiceRole,
            },
            Expires = DateTime.UtcNow.AddHours(1),
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.HmacSha256),
        });

        var result = await options.TokenHandlers[0].ValidateTokenAsync(token, options.TokenValidationParameters);
        Assert.True(result.IsValid == valid, $"{issuer} signed with the {(developerKey ? "developer's" : "platform's")} key: {result.Exception?.Message}");
    }

    [Theory]
    [InlineData(4, true)]
    [InlineData(-4, true)]
    [InlineData(7, false)]
    public async Task A_service_token_is_valid_from_a_service_whose_clock_is_a_few_minutes_off(int minutesAhead, bool valid)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { [BookingAuthentication.SigningKeySetting] = TestTokens.SigningKey });
        builder.AddBookingAuthentication();
        using var host = builder.Build();
        var options = host.Services.GetRequiredService<IOptionsMonitor<JwtBearerOptions>>().Get(JwtBearerDefaults.AuthenticationScheme);

        var issuerClock = new ShiftedClock(TimeSpan.FromMinutes(minutesAhead));
        var token = new ServiceTokens(BookingAuthentication.SigningKey(TestTokens.SigningKey), "Booking.SagaWorker", issuerClock).Current;

        var result = await options.TokenHandlers[0].ValidateTokenAsync(token, options.TokenValidationParameters);
        Assert.True(result.IsValid == valid, $"issuer {minutesAhead} min ahead: {result.Exception?.Message}");
    }
}
