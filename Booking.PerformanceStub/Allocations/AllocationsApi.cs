using System.Diagnostics;
using Booking.PerformanceStub.Chaos;
using Booking.PerformanceStub.Data;
using Booking.PerformanceStub.Performances;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Booking.PerformanceStub.Allocations;

public sealed record AllocationRequest(Guid? ReservationId, int? Seats);

/// <param name="TraceParent">The W3C traceparent of the saga step this allocation serves, so it joins that booking's trace.</param>
public sealed record BatchAllocationItem(Guid? PerformanceId, string? Section, Guid? ReservationId, int? Seats, string? TraceParent);

public sealed record BatchAllocationRequest(IReadOnlyList<BatchAllocationItem?>? Allocations);

/// <param name="Status">ALLOCATED, SECTION_SOLD_OUT, ALLOCATION_RELEASED, NOT_FOUND, or DEPENDENCY_UNAVAILABLE (try again later, as the single allocation's 503).</param>
public sealed record BatchAllocationResult(Guid PerformanceId, string Section, Guid ReservationId, string Status, int Seats, int Remaining);

public sealed record BatchAllocationResponse(IReadOnlyList<BatchAllocationResult> Results);

public sealed record AllocationDto(Guid PerformanceId, string Section, Guid ReservationId, int Seats, int Remaining);

public sealed record AllocationServices(SectionAllocator Allocator, PerformanceDbContext Db, SectionLock SectionLock, ChaosSettings Chaos, TimeProvider Time);

/// <summary>
/// Seats of a section allocated to reservations, changed only under the section's lock and the database check
/// <c>remaining &gt;= seats</c>, so <c>remaining == capacity - sum(allocations)</c> holds under any concurrency.
/// Both calls are idempotent by reservation id; allocations of one section are group-committed (SectionAllocator).
/// </summary>
public static class AllocationsApi
{
    public const int MaxBatch = 500;
    public const int MaxSeats = 1000;

    /// <summary>How long one item of a batch may keep the batch's answer waiting: well within the worker's 5 s per call.</summary>
    public static readonly TimeSpan BatchItemBudget = TimeSpan.FromSeconds(3);

    public static IEndpointRouteBuilder MapAllocationsApi(this IEndpointRouteBuilder app)
    {
        // Only the booking service's own token: an allocation changes what everyone can book.
        var group = app.MapGroup("/performances/{id:guid}/sections/{code}/allocations").WithTags("Allocations")
            .RequireAuthorization(BookingAuthentication.ServicePolicy);
        group.MapPost(string.Empty, AllocateAsync).WithName("Allocate").WithSummary("Allocates seats of a section to a reservation.");
        group.MapDelete("/{reservationId:guid}", DeallocateAsync).WithName("Deallocate").WithSummary("Gives a reservation's seats back (compensation).");
        app.MapPost("/allocations/batch", AllocateBatchAsync).WithTags("Allocations").RequireAuthorization(BookingAuthentication.ServicePolicy)
            .WithName("AllocateBatch").WithSummary($"Up to {MaxBatch} allocations of any sections in one call, each with its own result.");
        return app;
    }

    public static async Task<Results<Ok<AllocationDto>, ValidationProblem, ProblemHttpResult>> AllocateAsync(
        Guid id, string code, AllocationRequest request, [AsParameters] AllocationServices services, CancellationToken cancellationToken)
    {
        if (request.ReservationId is null || request.Seats is not (>= 1 and <= MaxSeats))
        {
            return TypedResults.ValidationProblem(
                new Dictionary<string, string[]>(StringComparer.Ordinal) { ["request"] = [$"reservationId is required and seats must be 1..{MaxSeats}."] },
                extensions: new Dictionary<string, object?>(StringComparer.Ordinal) { ["code"] = ProblemCodes.ValidationFailed });
        }

        if (await services.Chaos.ShouldFailAsync(cancellationToken).ConfigureAwait(false))
        {
            return Problem(StatusCodes.Status503ServiceUnavailable, ProblemCodes.DependencyUnavailable, "Chaos: this allocation failed on purpose.");
        }

        var reservationId = request.ReservationId.Value;
        var seats = request.Seats.Value;
        var result = await services.Allocator.AllocateAsync(id, code, reservationId, seats).WaitAsync(cancellationToken).ConfigureAwait(false);
        return result.Status switch
        {
            AllocationStatus.Allocated => TypedResults.Ok(new AllocationDto(id, code, reservationId, result.Seats, result.Remaining)),
            AllocationStatus.Released => Problem(StatusCodes.Status409Conflict, "ALLOCATION_RELEASED", $"The allocation of reservation {reservationId} was already given back."),
            AllocationStatus.SoldOut => Problem(StatusCodes.Status409Conflict, "SECTION_SOLD_OUT", $"Section {code} has {result.Remaining} seats left; {seats} were asked for."),
            _ => PerformancesApi.NotFound(id),
        };
    }

    /// <summary>
    /// Many allocations at once (the saga worker's batches): each goes to its section's group commit like a single
    /// allocation, and each gets its own result; chaos fails them one by one.
    /// </summary>
    public static async Task<Results<Ok<BatchAllocationResponse>, ValidationProblem>> AllocateBatchAsync(
        BatchAllocationRequest request, [AsParameters] AllocationServices services, CancellationToken cancellationToken)
    {
        var items = request.Allocations ?? [];
        if (items.Count is 0 or > MaxBatch || items.Any(i => i is not { PerformanceId: not null, ReservationId: not null, Seats: >= 1 and <= MaxSeats, Section.Length: >= 1 and <= Section.MaxCodeLength }))
        {
            return TypedResults.ValidationProblem(
                new Dictionary<string, string[]>(StringComparer.Ordinal) { ["allocations"] = [$"1..{MaxBatch} allocations, each with performanceId, section (1..{Section.MaxCodeLength} characters), reservationId and seats 1..{MaxSeats}."] },
                extensions: new Dictionary<string, object?>(StringComparer.Ordinal) { ["code"] = ProblemCodes.ValidationFailed });
        }

        await services.Chaos.DelayAsync(cancellationToken).ConfigureAwait(false);
        using var budget = new CancellationTokenSource(BatchItemBudget);
        var results = await Task.WhenAll(items.Select(item => WithinBudgetAsync(item!, services, budget.Token))).WaitAsync(cancellationToken).ConfigureAwait(false);
        return TypedResults.Ok(new BatchAllocationResponse(results));
    }

    /// <summary>
    /// An item its section keeps waiting (its lock held elsewhere, its row locked) answers "try again" once
    /// <see cref="BatchItemBudget"/> is spent, so that it does not hold back the others' answers: the worker's call gives
    /// up after 5 s and would count every item of the batch as failed. Its allocation may still finish meanwhile;
    /// allocating that reservation again then finds it done.
    /// </summary>
    private static async Task<BatchAllocationResult> WithinBudgetAsync(BatchAllocationItem item, AllocationServices services, CancellationToken budget)
    {
        var allocation = AllocateOneAsync(item, services);
        try
        {
            return await allocation.WaitAsync(budget).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (budget.IsCancellationRequested)
        {
            return new BatchAllocationResult(item.PerformanceId!.Value, item.Section!, item.ReservationId!.Value, ProblemCodes.DependencyUnavailable, 0, 0);
        }
    }

    private static async Task<BatchAllocationResult> AllocateOneAsync(BatchAllocationItem item, AllocationServices services)
    {
        var (performanceId, section, reservationId) = (item.PerformanceId!.Value, item.Section!, item.ReservationId!.Value);
        if (services.Chaos.Fails())
        {
            return new BatchAllocationResult(performanceId, section, reservationId, ProblemCodes.DependencyUnavailable, 0, 0);
        }

        ActivityContext.TryParse(item.TraceParent, null, out var caller);
        AllocationResult result;
        try
        {
            result = await services.Allocator.AllocateAsync(performanceId, section, reservationId, item.Seats!.Value, caller).ConfigureAwait(false);
        }
        catch (Exception exception) when (ProblemExceptionHandler.Classify(exception).Status == StatusCodes.Status503ServiceUnavailable)
        {
            // PostgreSQL or the section's lock did not answer: this item alone is to be tried again, as a single call's 503.
            return new BatchAllocationResult(performanceId, section, reservationId, ProblemCodes.DependencyUnavailable, 0, 0);
        }

        var status = result.Status switch
        {
            AllocationStatus.Allocated => "ALLOCATED",
            AllocationStatus.Released => "ALLOCATION_RELEASED",
            AllocationStatus.SoldOut => "SECTION_SOLD_OUT",
            _ => "NOT_FOUND",
        };
        return new BatchAllocationResult(performanceId, section, reservationId, status, result.Seats, result.Remaining);
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> DeallocateAsync(
        Guid id, string code, Guid reservationId, [AsParameters] AllocationServices services, CancellationToken cancellationToken)
    {
        if (await services.Chaos.ShouldFailAsync(cancellationToken).ConfigureAwait(false))
        {
            return Problem(StatusCodes.Status503ServiceUnavailable, ProblemCodes.DependencyUnavailable, "Chaos: this deallocation failed on purpose.");
        }

        await using var held = await services.SectionLock.AcquireAsync(id, code, cancellationToken).ConfigureAwait(false);
        var db = services.Db;
        // The check and the change in one transaction: one commit per deallocation.
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        if (!await db.Sections.AnyAsync(s => s.PerformanceId == id && s.Code == code, cancellationToken).ConfigureAwait(false))
        {
            // Nothing of a section that does not exist is allocated, nor ever can be: given back already, as API.md has it.
            return TypedResults.NoContent();
        }

        var now = services.Time.GetUtcNow();
        var allocation = await db.Allocations.AsNoTracking()
            .SingleOrDefaultAsync(a => a.PerformanceId == id && a.SectionCode == code && a.ReservationId == reservationId, cancellationToken)
            .ConfigureAwait(false);
        if (allocation is null)
        {
            await AddTombstoneAsync(db, id, code, reservationId, now, cancellationToken).ConfigureAwait(false);
        }
        else if (allocation.State == AllocationState.Allocated)
        {
            await ReleaseAsync(db, allocation, now, cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return TypedResults.NoContent();
    }

    /// <summary>
    /// Never allocated (or not yet): a tombstone, so a late allocation cannot take the seats. One that meets an
    /// allocation written meanwhile by the holder of a lost lock is a 503; the retry releases that allocation.
    /// </summary>
    private static async Task AddTombstoneAsync(PerformanceDbContext db, Guid id, string code, Guid reservationId, DateTimeOffset now, CancellationToken cancellationToken)
    {
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
        try
        {
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (DbUpdateException exception) when (exception.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            throw new SectionLockLostException($"Reservation {reservationId} was allocated in section {code} of {id} while its deallocation ran.");
        }
    }

    /// <summary>
    /// Released only by the statement that finds it still allocated (it waits for any other change of the row and looks
    /// again), and its seats given back only then: once, even if a lost lock let two deallocations run together.
    /// </summary>
    private static async Task ReleaseAsync(PerformanceDbContext db, Allocation allocation, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var (id, code, reservationId, seats) = (allocation.PerformanceId, allocation.SectionCode, allocation.ReservationId, allocation.Seats);
        var released = await db.Allocations
            .Where(a => a.PerformanceId == id && a.SectionCode == code && a.ReservationId == reservationId && a.State == AllocationState.Allocated)
            .ExecuteUpdateAsync(setters => setters.SetProperty(a => a.State, AllocationState.Released).SetProperty(a => a.UpdatedAt, now), cancellationToken)
            .ConfigureAwait(false);
        if (released == 1)
        {
            await db.Sections
                .Where(s => s.PerformanceId == id && s.Code == code)
                .ExecuteUpdateAsync(setters => setters.SetProperty(s => s.Remaining, s => s.Remaining + seats), cancellationToken)
                .ConfigureAwait(false);
        }
    }

    private static ProblemHttpResult Problem(int status, string code, string detail) => TypedResults.Problem(
        detail,
        statusCode: status,
        title: code == "SECTION_SOLD_OUT" ? "Section sold out" : "Allocation refused",
        extensions: new Dictionary<string, object?>(StringComparer.Ordinal) { ["code"] = code });
}
