using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Booking.Api.Http;

/// <summary>
/// Who is calling: the <c>sub</c> claim of a valid bearer token. Only when the service is explicitly configured
/// to sit behind a trusted gateway (<c>Booking:TrustedGateway</c>, off by default) does the gateway's
/// <c>X-User-Id</c> header stand in for a token. User endpoints answer 401 without an identity.
/// </summary>
public static class CallerIdentity
{
    public const string HeaderName = "X-User-Id";
    public const string TrustedGatewaySetting = "Booking:TrustedGateway";
    public const int MaxLength = Booking.Core.Data.BookingDbContext.UserIdLength;

    /// <summary>Every endpoint of the group needs a caller (policy <c>user</c>) whose id is sane.</summary>
    public static RouteGroupBuilder RequireCaller(this RouteGroupBuilder group)
    {
        group.RequireAuthorization(BookingAuthentication.UserPolicy);
        group.AddEndpointFilter(async (context, next) =>
        {
            if (context.HttpContext.FindUserId() is null)
            {
                return Problems.Create(StatusCodes.Status401Unauthorized, ProblemCodes.Unauthenticated, "Unauthenticated",
                    $"The caller's id (sub) must be 1 to {MaxLength} printable characters.");
            }

            return await next(context).ConfigureAwait(false);
        });
        return group;
    }

    /// <summary>The caller's id, or null when there is none or it is not usable as one.</summary>
    public static string? FindUserId(this HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var value = context.User.FindFirst(BookingAuthentication.SubjectClaim)?.Value;
        return value is { Length: > 0 and <= MaxLength } && !value.Any(char.IsControl) ? value : null;
    }

    public static string GetUserId(this HttpContext context) =>
        context.FindUserId() ?? throw new InvalidOperationException("The endpoint is not behind RequireCaller().");

    /// <summary>
    /// In trusted-gateway mode, a request without a bearer token is the user the gateway names. A request that
    /// carries one is judged by it alone: a bad token stays a 401, whatever the header says.
    /// </summary>
    public static AuthenticationBuilder AddTrustedGateway(this AuthenticationBuilder builder) =>
        builder.AddScheme<AuthenticationSchemeOptions, TrustedGatewayHandler>(TrustedGatewayHandler.SchemeName, null);

    public sealed class TrustedGatewayHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        public const string SchemeName = "TrustedGateway";

        protected override Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            var user = Request.Headers[HeaderName].ToString().Trim();
            if (user.Length == 0 || Request.Headers.Authorization.Count > 0)
            {
                return Task.FromResult(AuthenticateResult.NoResult());
            }

            var identity = new ClaimsIdentity([new Claim(BookingAuthentication.SubjectClaim, user)], SchemeName, BookingAuthentication.SubjectClaim, BookingAuthentication.RoleClaim);
            return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
        }
    }
}
