using Booking.Api.Capacity;
using Booking.Api.Http;
using Booking.Api.Idempotency;
using Booking.Api.Seats;
using Booking.Core;
using Booking.Core.Capacity;
using Booking.Core.Holds;
using Booking.Core.Seats;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Booking.Api.Holds;

public sealed record CreateSeatHoldRequest(IReadOnlyList<string?>? SeatIds);

public sealed record SeatHoldDto(Guid HoldId, string PerformanceId, IReadOnlyList<string> SeatIds, DateTimeOffset ExpiresAt);

public sealed record CreateCapacityHoldRequest(int? Quantity);

public sealed record CapacityHoldDto(Guid HoldId, BookingDomain Domain, string ResourceId, string Slot, int Quantity, DateTimeOffset ExpiresAt);

/// <summary>What became of a hold, as <c>GET /api/holds/{holdId}</c> tells its owner.</summary>
public enum HoldStatus
{
    /// <summary>Live: its units are the owner's until <see cref="HoldDto.ExpiresAt"/>.</summary>
    Held,

    /// <summary>A reservation was made from it; the saga decides the rest.</summary>
    Reserved,

    /// <summary>Its reservation was confirmed: the units are sold.</summary>
    Booked,

    /// <summary>Given up by its owner, or given back when its reservation failed or was cancelled.</summary>
    Released,

    /// <summary>Its time ran out before a reservation was made from it.</summary>
    Expired,
}

/// <summary>
/// A hold of either kind: seats of a performance (<see cref="SeatIds"/>) or a quantity of a slot. <see cref="ExpiresAt"/>
/// is when the hold itself runs out; null where Redis keeps no expiry for it (a booking rebuilt from PostgreSQL).
/// </summary>
public sealed record HoldDto(
    Guid HoldId, BookingDomain Domain, string ResourceId, string? Slot, IReadOnlyList<string> SeatIds, int Quantity, HoldStatus Status,
    Guid? ReservationId, DateTimeOffset? ExpiresAt)
{
    public static HoldDto From(HoldRecord hold, DateTimeOffset now)
    {
        var expiresAt = hold.HeldUntil ?? hold.ExpiresAt;
        var status = hold.State switch
        {
            HoldState.Held when hold.ReservationId is not null => HoldStatus.Reserved,
            HoldState.Held when expiresAt <= now => HoldStatus.Expired,
            HoldState.Held => HoldStatus.Held,
            HoldState.Booked => HoldStatus.Booked,
            HoldState.Expired => HoldStatus.Expired,
            _ => HoldStatus.Released,
        };
        return new HoldDto(hold.HoldId, hold.Resource.Domain, hold.Resource.ResourceId, hold.Resource.Slot, hold.SeatIds, hold.Quantity, status,
            hold.ReservationId, expiresAt.ToUnixTimeMilliseconds() > 0 ? expiresAt : null);
    }
}

public sealed record HoldServices(HoldService Holds, IOptions<BookingOptions> Options);

/// <summary>
/// Every hold endpoint: seats of a performance (many in one Lua call), a quantity of a slot, and giving a hold up.
/// The holding itself, with the loading of a resource whose state is not in Redis yet, is <see cref="HoldService"/>'s.
/// </summary>
public static class HoldsApi
{
    public static IEndpointRouteBuilder MapHoldsApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/api/performances/{performanceId}").WithTags("Holds").RequireCaller()
            .MapPost("/holds", CreateSeatHoldAsync)
            .AcceptsIdempotencyKey()
            .RequireRateLimiting(HoldRateLimit.PolicyName)
            .WithName("CreateSeatHold")
            .WithSummary("Holds every requested seat or none, until the hold expires.");

        app.MapGroup("/api/capacity/{domain}/{resourceId}/{slot}").WithTags("Holds").RequireCaller()
            .MapPost("/holds", CreateCapacityHoldAsync)
            .AcceptsIdempotencyKey()
            .RequireRateLimiting(HoldRateLimit.PolicyName)
            .WithName("CreateCapacityHold")
            .WithSummary("Holds a quantity of a slot, all or nothing, until the hold expires.");

        var holds = app.MapGroup("/api/holds").WithTags("Holds").RequireCaller();
        holds.MapGet("/{holdId:guid}", GetHoldAsync)
            .WithName("GetHold")
            .WithSummary("One of the caller's holds: what it holds, until when, and what became of it.");
        holds.MapDelete("/{holdId:guid}", DeleteHoldAsync)
            .WithName("DeleteHold")
            .WithSummary("Releases a hold; releasing one already released or expired is fine.");
        return app;
    }

    public static async Task<Results<Created<SeatHoldDto>, ValidationProblem, ProblemHttpResult>> CreateSeatHoldAsync(
        string performanceId, CreateSeatHoldRequest request, HttpContext httpContext, [AsParameters] HoldServices services, CancellationToken cancellationToken)
    {
        var maxSeats = services.Options.Value.MaxSeatsPerHold;
        var seatIds = request.SeatIds;
        var validation = new Validation()
            .Check(Identifiers.IsResourceId(performanceId), nameof(performanceId), Identifiers.ResourceIdRule);
        if (seatIds is null || seatIds.Count == 0)
        {
            validation.Add("seatIds", "At least one seat id is required.");
        }
        else
        {
            validation
                .Check(seatIds.Count <= maxSeats, "seatIds", $"At most {maxSeats} seats can be held at once.")
                .Check(seatIds.All(SeatIds.IsWellFormed), "seatIds", "Seat ids are '{section}-{row}-{number}', e.g. 'A-1-12'.")
                .Check(seatIds.Distinct(StringComparer.Ordinal).Count() == seatIds.Count, "seatIds", "Seat ids must not repeat.");
        }

        if (!validation.IsValid)
        {
            return Problems.Validation(validation.Errors);
        }

        var seats = seatIds!.Select(seat => seat!).ToList();
        var holdId = Guid.CreateVersion7();
        var (userId, ttl) = (httpContext.GetUserId(), services.Options.Value.HoldTtl);
        // Any other spelling of the UUID is the same performance; a string that is no UUID names none (404 below).
        var attempt = Identifiers.TryPerformanceId(performanceId, out var canonical)
            ? await services.Holds.HoldSeatsAsync(ResourceRef.Performance(canonical), holdId, userId, ttl, seats, cancellationToken)
                .ConfigureAwait(false)
            : null;
        return attempt?.Status switch
        {
            null => Problems.NotFound($"Performance '{performanceId}'"),
            HoldAttemptStatus.Held => TypedResults.Created($"/api/holds/{holdId}", new SeatHoldDto(holdId, canonical, seats, attempt.ExpiresAt)),
            HoldAttemptStatus.UnknownSeats => Problems.Validation("seatIds", $"Unknown seats: {string.Join(", ", attempt.Conflicting)}."),
            HoldAttemptStatus.Unavailable => Problems.Conflict(ProblemCodes.SeatsUnavailable, "Seats unavailable",
                "Some of the requested seats are held or booked; nothing was held.",
                new Dictionary<string, object?>(StringComparer.Ordinal) { ["unavailableSeatIds"] = attempt.Conflicting }),
            _ => throw new InvalidOperationException($"Unexpected outcome {attempt.Status} of a seat hold."),
        };
    }

    public static async Task<Results<Created<CapacityHoldDto>, ValidationProblem, ProblemHttpResult>> CreateCapacityHoldAsync(
        string domain, string resourceId, string slot, CreateCapacityHoldRequest request, HttpContext httpContext, [AsParameters] HoldServices services,
        CancellationToken cancellationToken)
    {
        var max = services.Options.Value.MaxQuantityPerHold;
        var validation = CapacityApi.ValidateSlot(domain, resourceId, slot, out var resource);
        validation.Check(request.Quantity is >= 1 && request.Quantity <= max, "quantity", $"Must be a whole number from 1 to {max}.");
        if (!validation.IsValid)
        {
            return Problems.Validation(validation.Errors);
        }

        var holdId = Guid.CreateVersion7();
        var (userId, ttl, quantity) = (httpContext.GetUserId(), services.Options.Value.HoldTtl, request.Quantity!.Value);
        var attempt = await services.Holds.HoldCapacityAsync(resource!, holdId, userId, ttl, quantity, cancellationToken).ConfigureAwait(false);
        return attempt?.Status switch
        {
            null => Problems.NotFound($"Capacity of {resource!.Domain} '{resourceId}' at '{slot}'"),
            HoldAttemptStatus.Held => TypedResults.Created($"/api/holds/{holdId}", new CapacityHoldDto(holdId, resource!.Domain, resourceId, slot, quantity, attempt.ExpiresAt)),
            HoldAttemptStatus.Unavailable => Problems.Conflict(ProblemCodes.CapacityUnavailable, "Capacity unavailable",
                $"Only {attempt.Available} units are available; nothing was held.",
                new Dictionary<string, object?>(StringComparer.Ordinal) { ["available"] = attempt.Available }),
            _ => throw new InvalidOperationException($"Unexpected outcome {attempt.Status} of a capacity hold."),
        };
    }

    public static async Task<Results<Ok<HoldDto>, ProblemHttpResult>> GetHoldAsync(Guid holdId, HttpContext httpContext, HoldEngine holds, TimeProvider time)
    {
        // Another user's hold answers as an unknown one, like every resource of theirs.
        var hold = await holds.FindAsync(holdId).ConfigureAwait(false);
        return hold is null || hold.UserId != httpContext.GetUserId()
            ? Problems.NotFound($"Hold '{holdId}'")
            : TypedResults.Ok(HoldDto.From(hold, time.GetUtcNow()));
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteHoldAsync(Guid holdId, HttpContext httpContext, HoldEngine holds)
    {
        // The index says where the hold lives; the release script reads the hold itself and checks its owner again.
        var userId = httpContext.GetUserId();
        var hold = await holds.LocateAsync(holdId).ConfigureAwait(false);
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
