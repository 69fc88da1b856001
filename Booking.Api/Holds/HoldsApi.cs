using Booking.Api.Http;
using Booking.Core.Holds;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Booking.Api.Holds;

/// <summary>Giving a hold up before it expires.</summary>
public static class HoldsApi
{
    public static IEndpointRouteBuilder MapHoldsApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/api/holds").WithTags("Holds").RequireCaller()
            .MapDelete("/{holdId:guid}", DeleteHoldAsync)
            .WithName("DeleteHold")
            .WithSummary("Releases a hold; releasing one already released or expired is fine.");
        return app;
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteHoldAsync(Guid holdId, HttpContext httpContext, HoldEngine holds)
    {
        var userId = httpContext.GetUserId();
        var hold = await holds.FindAsync(holdId).ConfigureAwait(false);
        if (hold is null || hold.UserId != userId)
        {
            return Problems.NotFound($"Hold '{holdId}'");
        }

        return await holds.ReleaseAsync(hold.Resource, holdId, userId).ConfigureAwait(false) switch
        {
            ReleaseOutcome.Released => TypedResults.NoContent(),
            ReleaseOutcome.Booked or ReleaseOutcome.Reserved => Problems.Conflict(
                ProblemCodes.InvalidState,
                "Hold is reserved",
                "A reservation was made from the hold; cancel the reservation instead."),
            _ => Problems.NotFound($"Hold '{holdId}'"),
        };
    }
}
