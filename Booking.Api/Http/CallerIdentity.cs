namespace Booking.Api.Http;

/// <summary>
/// The caller's id from <c>X-User-Id</c>, set by the gateway in front of the service. User endpoints answer 401
/// without it; handlers read it with <see cref="GetUserId"/>.
/// </summary>
public static class CallerIdentity
{
    public const string HeaderName = "X-User-Id";
    private const int MaxLength = 128;
    private static readonly object ItemKey = new();

    public static RouteGroupBuilder RequireCaller(this RouteGroupBuilder group)
    {
        group.AddEndpointFilter(async (context, next) =>
        {
            var value = context.HttpContext.Request.Headers[HeaderName].ToString().Trim();
            if (value.Length == 0 || value.Length > MaxLength || value.Any(char.IsControl))
            {
                return Problems.Create(
                    StatusCodes.Status401Unauthorized,
                    ProblemCodes.Unauthenticated,
                    "Unauthenticated",
                    $"The {HeaderName} header is required (1 to {MaxLength} printable characters).");
            }

            context.HttpContext.Items[ItemKey] = value;
            return await next(context).ConfigureAwait(false);
        });
        return group;
    }

    public static string GetUserId(this HttpContext context) =>
        context.Items[ItemKey] as string ?? throw new InvalidOperationException("The endpoint is not behind RequireCaller().");
}
