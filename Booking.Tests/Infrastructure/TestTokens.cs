using System.Net.Http.Headers;
using System.Security.Cryptography;
using Microsoft.Extensions.Hosting;

namespace Booking.Tests.Infrastructure;

/// <summary>
/// Bearer tokens for tests, signed with a key made for this test run and given to every service under test (as
/// the AppHost gives its generated key to the services).
/// </summary>
public static class TestTokens
{
    public static readonly string SigningKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    public static string For(string subject, params string[] roles) =>
        BookingAuthentication.CreateToken(BookingAuthentication.SigningKey(SigningKey), subject, roles, DateTimeOffset.UtcNow, TimeSpan.FromHours(1));

    public static AuthenticationHeaderValue Bearer(string subject, params string[] roles) => new("Bearer", For(subject, roles));

    public static AuthenticationHeaderValue Admin => Bearer("test-admin", BookingAuthentication.AdminRole);
}
