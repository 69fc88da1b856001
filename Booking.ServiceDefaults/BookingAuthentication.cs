using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.Extensions.Primitives;
using Microsoft.IdentityModel.Tokens;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// JWT bearer authentication and the platform's policies, shared by every service. Two kinds of token are
/// accepted: those the platform signs with its own key (<c>Booking:Auth:SigningKey</c>, a secret the AppHost
/// generates; issuer and audience <c>booking</c>: service-to-service calls and tests), and, in Development,
/// those of <c>dotnet user-jwts</c>, whose issuer, audiences and key come from the standard
/// <c>Authentication:Schemes:Bearer</c> section (appsettings.Development.json and user secrets).
/// </summary>
public static class BookingAuthentication
{
    public const string UserPolicy = "user";
    public const string AdminPolicy = "admin";
    public const string ServicePolicy = "service";
    public const string AdminRole = "admin";
    public const string ServiceRole = "booking-service";
    public const string Issuer = "booking";
    public const string Audience = "booking";
    public const string SigningKeySetting = "Booking:Auth:SigningKey";
    public const string SubjectClaim = "sub";
    public const string RoleClaim = "role";

    /// <summary>The platform's signing key from configuration (base64, at least 256 bits).</summary>
    public static SymmetricSecurityKey SigningKey(string? base64)
    {
        if (string.IsNullOrWhiteSpace(base64))
        {
            throw new InvalidOperationException($"{SigningKeySetting} is missing: run the system through Booking.AppHost, which generates it.");
        }

        var bytes = Convert.FromBase64String(base64);
        return bytes.Length >= 32
            ? new SymmetricSecurityKey(bytes)
            : throw new InvalidOperationException($"{SigningKeySetting} must be at least 32 bytes.");
    }

    public static IHostApplicationBuilder AddBookingAuthentication(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var key = SigningKey(builder.Configuration[SigningKeySetting]);
        builder.Services.AddSingleton(new ServiceTokens(key, builder.Environment.ApplicationName, TimeProvider.System));
        builder.Services.AddTransient<ServiceTokenHandler>();

        // dotnet user-jwts adds its key to the user secrets of a running system: keys are read as they change.
        var keys = new SigningKeys(builder.Configuration.GetSection("Authentication:Schemes:Bearer:SigningKeys"), key);
        builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer();
        // After the configuration binding of Authentication:Schemes:Bearer, so user-jwts settings add to ours.
        builder.Services.PostConfigure<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme, options =>
        {
            options.MapInboundClaims = false;
            // Nothing reads the token back from the authentication properties (GetTokenAsync): storing it there
            // allocated a dictionary entry and its copy on every request.
            options.SaveToken = false;
            // Every client sends one token for many requests: each is validated once a minute, not per request.
            var handlers = options.TokenHandlers.ToList();
            options.TokenHandlers.Clear();
            foreach (var handler in handlers)
            {
                options.TokenHandlers.Add(new ValidatedTokenCache(handler, TimeProvider.System));
            }

            var parameters = options.TokenValidationParameters;
            parameters.NameClaimType = SubjectClaim;
            parameters.RoleClaimType = RoleClaim;
            parameters.ValidIssuers = [.. parameters.ValidIssuers ?? [], .. parameters.ValidIssuer is { } issuer ? [issuer] : Array.Empty<string>(), Issuer];
            parameters.ValidAudiences = [.. parameters.ValidAudiences ?? [], .. parameters.ValidAudience is { } audience ? [audience] : Array.Empty<string>(), Audience];
            parameters.IssuerSigningKeyResolver = (_, token, _, _) => keys.For(token?.Issuer);
            parameters.ClockSkew = TimeSpan.FromSeconds(30);
        });

        builder.Services.AddAuthorizationBuilder()
            // An endpoint mapped without a policy, and a path that matches none, still need an authenticated caller:
            // only what says AllowAnonymous (health, the API's description) answers anyone.
            .SetFallbackPolicy(new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build())
            .AddPolicy(UserPolicy, policy => policy.RequireAuthenticatedUser().RequireClaim(SubjectClaim))
            .AddPolicy(AdminPolicy, policy => policy.RequireAuthenticatedUser().RequireRole(AdminRole))
            // The service role counts only in a token the platform signed itself (issuer booking): a developer's
            // user-jwts token can name any role, and must not stand in for the booking service.
            .AddPolicy(ServicePolicy, policy => policy.RequireAuthenticatedUser().RequireAssertion(context =>
                context.User.HasClaim(claim => claim.Type == RoleClaim && claim.Value == ServiceRole && claim.Issuer == Issuer)));
        return builder;
    }

    /// <summary>
    /// A platform token is valid from this long before it was made, so a service whose clock runs ahead of the one it
    /// calls by up to this much is not refused (one running behind is covered by the token's lifetime): the services'
    /// own clocks may be minutes off, as the database clock allows for (DESIGN.md).
    /// </summary>
    public static readonly TimeSpan IssuerClockAllowance = TimeSpan.FromMinutes(5);

    /// <summary>Signs a token with the platform's key: what services send each other, and what tests and the load tool send.</summary>
    public static string CreateToken(SymmetricSecurityKey key, string subject, IEnumerable<string> roles, DateTimeOffset now, TimeSpan lifetime)
    {
        ArgumentNullException.ThrowIfNull(key);
        var claims = new List<Claim> { new(SubjectClaim, subject) };
        claims.AddRange(roles.Select(role => new Claim(RoleClaim, role)));
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = Audience,
            Subject = new ClaimsIdentity(claims),
            NotBefore = (now - IssuerClockAllowance).UtcDateTime,
            IssuedAt = now.UtcDateTime,
            Expires = now.UtcDateTime.Add(lifetime),
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.HmacSha256),
        });
    }
}

/// <summary>This service's own token for calls to the others (role <c>booking-service</c>), renewed before it expires.</summary>
public sealed class ServiceTokens(SymmetricSecurityKey key, string serviceName, TimeProvider time)
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(10);

    // One reference, swapped whole: concurrent requests read a token and its renewal time that belong together.
    private volatile Issued? _current;

    public string Current
    {
        get
        {
            var now = time.GetUtcNow();
            if (_current is { } current && now < current.RenewAt)
            {
                return current.Token;
            }

            var token = BookingAuthentication.CreateToken(key, serviceName, [BookingAuthentication.ServiceRole], now, Lifetime);
            _current = new Issued(token, now + Lifetime / 2);
            return token;
        }
    }

    private sealed record Issued(string Token, DateTimeOffset RenewAt);
}

/// <summary>Adds <see cref="ServiceTokens.Current"/> as the bearer token of every request of the client it is added to.</summary>
public sealed class ServiceTokenHandler(ServiceTokens tokens) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", tokens.Current);
        return base.SendAsync(request, cancellationToken);
    }
}

/// <summary>The platform's key plus every key under the configured section, refreshed whenever configuration reloads.</summary>
internal sealed class SigningKeys
{
    private readonly IConfigurationSection _section;
    private readonly SecurityKey _platformKey;
    private volatile SecurityKey[] _current;

    public SigningKeys(IConfigurationSection section, SecurityKey platformKey)
    {
        _section = section;
        _platformKey = platformKey;
        _current = Read();
        ChangeToken.OnChange(section.GetReloadToken, () => _current = Read());
    }

    /// <summary>
    /// The keys a token of <paramref name="issuer"/> may be signed with. A token of the platform's own issuer only with
    /// the platform's key: a developer's user-jwts key signs whatever issuer the developer names (<c>--issuer booking</c>),
    /// and the booking service's role counts only in the platform's tokens.
    /// </summary>
    public IEnumerable<SecurityKey> For(string? issuer) => issuer == BookingAuthentication.Issuer ? [_platformKey] : _current;

    private SecurityKey[] Read()
    {
        var configured = _section.GetChildren()
            .Select(child => child["Value"])
            .Where(value => !string.IsNullOrWhiteSpace(value))
            .Select(value => (SecurityKey)new SymmetricSecurityKey(Convert.FromBase64String(value!)));
        return [_platformKey, .. configured];
    }
}
