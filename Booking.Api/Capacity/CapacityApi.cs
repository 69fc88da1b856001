using System.Runtime.ExceptionServices;
using Booking.Api.Holds;
using Booking.Api.Http;
using Booking.Core;
using Booking.Core.Capacity;
using Booking.Core.Data;
using Booking.Core.Holds;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Booking.Api.Capacity;

public sealed record SetCapacityRequest(int? Capacity);

public sealed record CapacityDto(BookingDomain Domain, string ResourceId, string Slot, int Capacity, int Available, int Held, int Booked)
{
    public static CapacityDto From(ResourceRef slot, CapacityCounters counters) =>
        new(slot.Domain, slot.ResourceId, slot.Slot!, counters.Capacity, counters.Available, counters.Held, counters.Booked);
}

public sealed record CapacityServices(
    ResourceRegistry Registry, CapacityEngine Capacity, HoldService Holds, CapacityStateLoader Loader, BookingDbContext Db, TimeProvider Time, IOptions<BookingOptions> Options, ILogger<CapacityServices> Logger);

/// <summary>Counted capacity per slot for exhibitions and restaurants (capacity holds are in <c>Holds/</c>).</summary>
public static partial class CapacityApi
{
    public const int MaxCapacity = 1_000_000;

    public static IEndpointRouteBuilder MapCapacityApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/capacity/{domain}/{resourceId}/{slot}").WithTags("Capacity");

        group.MapPut(string.Empty, SetCapacityAsync)
            .RequireAuthorization(BookingAuthentication.AdminPolicy)
            .WithName("SetCapacity")
            .WithSummary("Sets a slot's capacity; it cannot go below what is held plus booked.");

        group.MapGet(string.Empty, GetCapacityAsync)
            .RequireAuthorization(BookingAuthentication.UserPolicy)
            .WithName("GetCapacity")
            .WithSummary("A slot's capacity with what is available, held and booked.");

        return app;
    }

    public static async Task<Results<Ok<CapacityDto>, ValidationProblem, ProblemHttpResult>> SetCapacityAsync(
        string domain, string resourceId, string slot, SetCapacityRequest request, [AsParameters] CapacityServices services, CancellationToken cancellationToken)
    {
        var validation = ValidateSlot(domain, resourceId, slot, out var resource);
        validation.Check(request.Capacity is >= 0 and <= MaxCapacity, "capacity", $"Must be a whole number from 0 to {MaxCapacity}.");
        if (!validation.IsValid)
        {
            return Problems.Validation(validation.Errors);
        }

        // Registered first, so a slot whose counters reach Redis is swept and evicted whatever fails after (and again
        // below: the sweeper may take a slot whose counters are not there yet off the registry meanwhile).
        await services.Registry.AddAsync(resource!).ConfigureAwait(false);
        var set = await ChangeAsync(services, resource!, request.Capacity!.Value, cancellationToken).ConfigureAwait(false);
        if (set is not { } taken)
        {
            // The script refuses to start an existing slot from nothing, should its state leave Redis right after the load.
            return Problems.Create(StatusCodes.Status503ServiceUnavailable, ProblemCodes.DependencyUnavailable, "Slot state changed",
                "The slot's state left Redis while its capacity was being set; nothing changed. Try again.");
        }

        var (accepted, counters) = taken;
        if (!accepted)
        {
            return Problems.Conflict(
                ProblemCodes.InvalidState,
                "Capacity below what is taken",
                $"{counters.Held} units are held and {counters.Booked} booked; capacity cannot go below {counters.Held + counters.Booked}.",
                new Dictionary<string, object?>(StringComparer.Ordinal) { ["held"] = counters.Held, ["booked"] = counters.Booked });
        }

        await services.Registry.AddAsync(resource!).ConfigureAwait(false);
        return TypedResults.Ok(CapacityDto.From(resource!, counters));
    }

    /// <summary>
    /// Changes the record and then Redis, the record's row locked throughout; null where the slot's state left Redis
    /// meanwhile. A change that fails after Redis may have taken it is undone there before the failure is thrown.
    /// </summary>
    private static async Task<(bool Accepted, CapacityCounters Counters)?> ChangeAsync(
        CapacityServices services, ResourceRef resource, int capacity, CancellationToken cancellationToken)
    {
        (bool Accepted, CapacityCounters Counters)? set = null;
        int? previous;
        ExceptionDispatchInfo? failed = null;
        await using (var transaction = await services.Db.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false))
        {
            // An existing slot whose counters are not in Redis (dropped while idle, or lost) gets its bookings back from
            // the record as it was. Then the record changes, its row locked until the end: concurrent PUTs reach Redis in
            // the order they commit, and a new slot has its record before its counters exist (a slot with counters but
            // no record would start again from nothing at its next PUT, blind to its bookings).
            await services.Loader.LoadAsync(resource, cancellationToken).ConfigureAwait(false);
            previous = await StoreRecordAsync(services, resource, capacity, cancellationToken).ConfigureAwait(false);
            try
            {
                set = await services.Capacity.SetAsync(resource, capacity, newSlot: previous is null).ConfigureAwait(false);
                if (set is { Accepted: true })
                {
                    await transaction.CommitAsync(CancellationToken.None).ConfigureAwait(false);
                }
            }
            catch (Exception exception)
            {
                failed = ExceptionDispatchInfo.Capture(exception);
            }
        }

        if (failed is not null)
        {
            // Redis may have taken the new capacity (its answer lost, or the commit failed after it): what PostgreSQL
            // holds goes back, so Redis does not keep what PostgreSQL did not.
            await RestoreAsync(services, resource, previous).ConfigureAwait(false);
            failed.Throw();
        }

        return set;
    }

    public static async Task<Results<Ok<CapacityDto>, ValidationProblem, ProblemHttpResult>> GetCapacityAsync(
        string domain, string resourceId, string slot, [AsParameters] CapacityServices services, CancellationToken cancellationToken)
    {
        var validation = ValidateSlot(domain, resourceId, slot, out var resource);
        if (!validation.IsValid)
        {
            return Problems.Validation(validation.Errors);
        }

        var counters = await services.Holds.ReadCapacityAsync(resource!, cancellationToken).ConfigureAwait(false);
        if (counters is null)
        {
            return Problems.NotFound($"Capacity of {resource!.Domain} '{resourceId}' at '{slot}'");
        }

        return TypedResults.Ok(CapacityDto.From(resource!, counters));
    }

    /// <summary>Parses the path; only EXHIBITION and RESTAURANT have counted capacity.</summary>
    public static Validation ValidateSlot(string domain, string resourceId, string slot, out ResourceRef? resource)
    {
        resource = null;
        var validation = new Validation();
        var domainOk = Identifiers.TryEnumName<BookingDomain>(domain, out var parsed) && parsed is BookingDomain.Exhibition or BookingDomain.Restaurant;
        validation
            .Check(domainOk, nameof(domain), "Must be EXHIBITION or RESTAURANT.")
            .Check(Identifiers.IsResourceId(resourceId), nameof(resourceId), Identifiers.ResourceIdRule)
            .Check(Identifiers.IsSlot(slot), nameof(slot), "Must be a date (2026-12-01) or a date and time (2026-12-01T19:00).");
        if (validation.IsValid)
        {
            resource = new ResourceRef(parsed, resourceId, slot);
        }

        return validation;
    }

    /// <summary>
    /// Puts back in Redis the capacity PostgreSQL has committed, read under the row's lock as every change reaches Redis:
    /// another change committed since this one failed is not undone. Where PostgreSQL cannot be read (most often it is
    /// away, and no change commits), the capacity this change found goes back (0 where it created the slot, whose record
    /// is not stored). Best effort: where Redis does not answer, its counters are as PostgreSQL's once it lost them, or
    /// until the next PUT; where it refuses (more is held and booked by now than that capacity allows), it keeps the
    /// new one; either way a warning says so.
    /// </summary>
    private static async Task RestoreAsync(CapacityServices services, ResourceRef resource, int? found)
    {
        IDbContextTransaction? transaction = null;
        var committed = found;
        try
        {
            try
            {
                transaction = await services.Db.Database.BeginTransactionAsync(CancellationToken.None).ConfigureAwait(false);
                committed = await LockedCapacityAsync(services, resource, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception exception)
            {
                LogCommittedUnread(services.Logger, exception, resource);
            }

            await PutBackAsync(services, resource, committed ?? 0).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            LogRestoreFailed(services.Logger, exception, resource, committed ?? 0);
        }
        finally
        {
            if (transaction is not null)
            {
                await transaction.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static async Task PutBackAsync(CapacityServices services, ResourceRef resource, int capacity)
    {
        // Null when the slot's state is not in Redis at all: nothing to put back.
        if (await services.Capacity.SetAsync(resource, capacity, newSlot: false).ConfigureAwait(false) is { Accepted: false })
        {
            LogRestoreFailed(services.Logger, null, resource, capacity);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read the committed capacity of {Resource} after its change failed; the capacity the change found goes back in Redis")]
    private static partial void LogCommittedUnread(ILogger logger, Exception exception, ResourceRef resource);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not put the capacity of {Resource} back to {Capacity} in Redis after its change failed")]
    private static partial void LogRestoreFailed(ILogger logger, Exception? exception, ResourceRef resource, int capacity);

    /// <summary>
    /// Stores the slot's new capacity in the transaction, its row locked until the end, and gives back the capacity it
    /// had as last committed (read under that lock, so it is what a failed PUT puts back): null when this PUT creates
    /// the record. A first PUT racing another waits for the other's row rather than failing.
    /// </summary>
    private static async Task<int?> StoreRecordAsync(CapacityServices services, ResourceRef resource, int capacity, CancellationToken cancellationToken)
    {
        var (domain, now) = (BookingDbContext.Stored(resource.Domain), services.Time.GetUtcNow());
        var created = await services.Db.Database.ExecuteSqlAsync(
            $"""
            INSERT INTO capacity_slots (domain, resource_id, slot, capacity, updated_at)
            VALUES ({domain}, {resource.ResourceId}, {resource.Slot}, {capacity}, {now})
            ON CONFLICT (domain, resource_id, slot) DO NOTHING
            """,
            cancellationToken).ConfigureAwait(false);
        if (created == 1)
        {
            return null;
        }

        var previous = await LockedCapacityAsync(services, resource, cancellationToken).ConfigureAwait(false);
        await services.Db.Database.ExecuteSqlAsync(
            $"""
            UPDATE capacity_slots SET capacity = {capacity}, updated_at = {now}
            WHERE domain = {domain} AND resource_id = {resource.ResourceId} AND slot = {resource.Slot}
            """,
            cancellationToken).ConfigureAwait(false);
        return previous;
    }

    /// <summary>The slot's committed capacity, its row locked until the transaction ends; null where it has no record.</summary>
    private static async Task<int?> LockedCapacityAsync(CapacityServices services, ResourceRef resource, CancellationToken cancellationToken) =>
        await services.Db.Database.SqlQuery<int?>(
            $"""
            SELECT capacity AS "Value" FROM capacity_slots
            WHERE domain = {BookingDbContext.Stored(resource.Domain)} AND resource_id = {resource.ResourceId} AND slot = {resource.Slot} FOR UPDATE
            """).SingleOrDefaultAsync(cancellationToken).ConfigureAwait(false);
}
