using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Microsoft.Extensions.Hosting;

namespace Booking.LoadTest;

/// <summary>
/// Bearer tokens for the virtual users (one per user, made once), signed with the key this run hands the system
/// as its <c>auth-signing-key</c> parameter.
/// </summary>
public sealed class LoadTokens
{
    private readonly ConcurrentDictionary<string, AuthenticationHeaderValue> _users = new(StringComparer.Ordinal);

    public string SigningKey { get; } = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    public AuthenticationHeaderValue For(string user) => _users.GetOrAdd(user, u => Create(u));

    /// <summary>An admin: creates the run's performances.</summary>
    public AuthenticationHeaderValue Admin => Create("loadtest-admin", BookingAuthentication.AdminRole);

    private AuthenticationHeaderValue Create(string subject, params string[] roles) => new("Bearer",
        BookingAuthentication.CreateToken(BookingAuthentication.SigningKey(SigningKey), subject, roles, DateTimeOffset.UtcNow, TimeSpan.FromHours(12)));
}
