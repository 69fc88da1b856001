using Booking.PerformanceStub.Chaos;
using Booking.PerformanceStub.Data;
using Booking.PerformanceStub.Performances;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Booking.PerformanceStub.Allocations;

public sealed record AllocationRequest(Guid? ReservationId, int? Seats);

public sealed record AllocationDto(Guid PerformanceId, string Section, Guid ReservationId, int Seats, int Remaining);

public sealed class AllocationServices(PerformanceDbContext db, SectionLock sectionLock, ChaosSettings chaos, TimeProvider time)
{
    public PerformanceDbContext Db { get; } = db;
    public SectionLock SectionLock { get; } = sectionLock;
    public ChaosSettings Chaos { get; } = chaos;
    public TimeProvider Time { get; } = time;
}

/// <summary>
/// Seats of a section allocated to reservations, changed only under the section's lock and the database check
/// <c>remaining &gt;= seats</c>, so <c>remaining == capacity - sum(allocations)</c> holds under any concurrency.
/// Both calls are idempotent by reservation id.
/// </summary>
public static class AllocationsApi
{
    public static IEndpointRouteBuilder MapAllocationsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/performances/{id:guid}/sections/{code}/allocations").WithTags("Allocations");
        group.MapPost(string.Empty, AllocateAsync).WithName("Allocate").WithSummary("Allocates seats of a section to a reservation.");
        group.MapDelete("/{reservationId:guid}", DeallocateAsync).WithName("Deallocate").WithSummary("Gives a reservation's seats back (compensation).");
        return app;
    }

    public static async Task<Results<Ok<AllocationDto>, ValidationProblem, ProblemHttpResult>> AllocateAsync(
        Guid id, string code, AllocationRequest request, [AsParameters] AllocationServices services, CancellationToken cancellationToken)
    {
        if (request.ReservationId is null || request.Seats is not (>= 1 and <= 1000))
        {
            return TypedResults.ValidationProblem(
                new Dictionary<string, string[]>(StringComparer.Ordinal) { ["request"] = ["reservationId is required and seats must be 1..1000."] },
                extensions: new Dictionary<string, object?>(StringComparer.Ordinal) { ["code"] = "VALIDATION_FAILED" });
        }

        if (await services.Chaos.ShouldFailAsync(cancellationToken).ConfigureAwait(false))
        {
            return Problem(StatusCodes.Status503ServiceUnavailable, "DEPENDENCY_UNAVAILABLE", "Chaos: this allocation failed on purpose.");
        }

        var reservationId = request.ReservationId.Value;
        var seats = request.Seats.Value;
        var now = services.Time.GetUtcNow();
        await using var held = await services.SectionLock.AcquireAsync(id, code, cancellationToken).ConfigureAwait(false);
        // One statement, so one round trip inside the lock: an earlier allocation of this reservation wins
        // (idempotency); otherwise the database check "remaining >= seats" guards the decrement and the insert.
        // Not composed with LINQ (that would wrap it in a subquery, where data-modifying CTEs are not allowed).
        var outcomes = await services.Db.Database.SqlQuery<AllocationOutcome>($"""
            WITH existing AS (
                SELECT state, seats FROM allocations
                WHERE performance_id = {id} AND section_code = {code} AND reservation_id = {reservationId}
            ), updated AS (
                UPDATE sections SET remaining = remaining - {seats}
                WHERE performance_id = {id} AND code = {code} AND remaining >= {seats} AND NOT EXISTS (SELECT 1 FROM existing)
                RETURNING remaining
            ), inserted AS (
                INSERT INTO allocations (performance_id, section_code, reservation_id, seats, state, created_at, updated_at)
                SELECT {id}, {code}, {reservationId}, {seats}, 'ALLOCATED', {now}, {now} FROM updated
                RETURNING 1
            )
            SELECT (SELECT state FROM existing) AS existing_state,
                   (SELECT seats FROM existing) AS existing_seats,
                   (SELECT remaining FROM updated) AS remaining,
                   (SELECT remaining FROM sections WHERE performance_id = {id} AND code = {code}) AS remaining_before
            """).ToListAsync(cancellationToken).ConfigureAwait(false);
        var outcome = outcomes.Single();

        if (outcome.RemainingBefore is null)
        {
            return PerformancesApi.NotFound(id);
        }

        return outcome switch
        {
            { ExistingState: "ALLOCATED" } => TypedResults.Ok(new AllocationDto(id, code, reservationId, outcome.ExistingSeats!.Value, outcome.RemainingBefore.Value)),
            { ExistingState: "RELEASED" } => Problem(StatusCodes.Status409Conflict, "ALLOCATION_RELEASED", $"The allocation of reservation {reservationId} was already given back."),
            { Remaining: { } remaining } => TypedResults.Ok(new AllocationDto(id, code, reservationId, seats, remaining)),
            _ => Problem(StatusCodes.Status409Conflict, "SECTION_SOLD_OUT", $"Section {code} has {outcome.RemainingBefore} seats left; {seats} were asked for."),
        };
    }

    /// <summary>What the allocation statement found and did.</summary>
    public sealed record AllocationOutcome(string? ExistingState, int? ExistingSeats, int? Remaining, int? RemainingBefore);

    public static async Task<Results<NoContent, ProblemHttpResult>> DeallocateAsync(
        Guid id, string code, Guid reservationId, [AsParameters] AllocationServices services, CancellationToken cancellationToken)
    {
        await using var held = await services.SectionLock.AcquireAsync(id, code, cancellationToken).ConfigureAwait(false);
        var db = services.Db;
        if (!await db.Sections.AnyAsync(s => s.PerformanceId == id && s.Code == code, cancellationToken).ConfigureAwait(false))
        {
            return PerformancesApi.NotFound(id);
        }

        var now = services.Time.GetUtcNow();
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var allocation = await db.Allocations
            .SingleOrDefaultAsync(a => a.PerformanceId == id && a.SectionCode == code && a.ReservationId == reservationId, cancellationToken)
            .ConfigureAwait(false);
        if (allocation is null)
        {
            // Never allocated (or not yet): leave a tombstone so a late allocation cannot take the seats.
            db.Allocations.Add(new Allocation
            {
                PerformanceId = id,
                SectionCode = code,
                ReservationId = reservationId,
                Seats = 0,
                State = AllocationState.Released,
                CreatedAt = now,
                UpdatedAt = now,
            });
        }
        else if (allocation.State == AllocationState.Allocated)
        {
            var seats = allocation.Seats;
            await db.Sections
                .Where(s => s.PerformanceId == id && s.Code == code)
                .ExecuteUpdateAsync(setters => setters.SetProperty(s => s.Remaining, s => s.Remaining + seats), cancellationToken)
                .ConfigureAwait(false);
            allocation.State = AllocationState.Released;
            allocation.UpdatedAt = now;
        }

        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return TypedResults.NoContent();
    }

    private static ProblemHttpResult Problem(int status, string code, string detail) => TypedResults.Problem(
        detail,
        statusCode: status,
        title: code == "SECTION_SOLD_OUT" ? "Section sold out" : "Allocation refused",
        extensions: new Dictionary<string, object?>(StringComparer.Ordinal) { ["code"] = code });
}
