using System.Globalization;
using System.Threading.RateLimiting;
using Booking.Core;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace Booking.Api.Http;

/// <summary>
/// A token bucket per user on hold creation (<c>Booking:HoldsPerSecondPerUser</c>, <c>Booking:HoldBurstPerUser</c>):
/// holds are the one thing a caller can create in bulk that occupies inventory for everyone else. Past it: 429
/// <c>RATE_LIMITED</c> with <c>Retry-After</c>.
/// </summary>
public static class HoldRateLimit
{
    public const string PolicyName = "holds";

    public static IServiceCollection AddHoldRateLimit(this IServiceCollection services)
    {
        services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.AddPolicy(PolicyName, context =>
            {
                var options = context.RequestServices.GetRequiredService<IOptions<BookingOptions>>().Value;
                // Endpoints behind this policy require a caller, so an anonymous request never reaches it.
                return RateLimitPartition.GetTokenBucketLimiter(context.FindUserId() ?? string.Empty, _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = options.HoldBurstPerUser,
                    TokensPerPeriod = options.HoldsPerSecondPerUser,
                    ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                    QueueLimit = 0,
                    AutoReplenishment = true,
                });
            });
            limiter.OnRejected = async (rejected, cancellationToken) =>
            {
                var retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
                var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
                rejected.HttpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                await Problems.Create(StatusCodes.Status429TooManyRequests, ProblemCodes.RateLimited, "Too many requests",
                        $"Too many holds from this caller; retry after {seconds} s.")
                    .ExecuteAsync(rejected.HttpContext).ConfigureAwait(false);
            };
        });
        return services;
    }
}
