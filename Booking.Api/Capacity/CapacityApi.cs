using Booking.Api.Holds;
using Booking.Api.Http;
using Booking.Core;
using Booking.Core.Capacity;
using Booking.Core.Data;
using Booking.Core.Holds;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Booking.Api.Capacity;

public sealed record SetCapacityRequest(int? Capacity);

public sealed record CapacityDto(BookingDomain Domain, string ResourceId, string Slot, int Capacity, int Available, int Held, int Booked)
{
    public static CapacityDto From(ResourceRef slot, CapacityCounters counters) =>
        new(slot.Domain, slot.ResourceId, slot.Slot!, counters.Capacity, counters.Available, counters.Held, counters.Booked);
}

public sealed record CapacityServices(ResourceRegistry Registry, CapacityEngine Capacity, HoldService Holds, BookingDbContext Db, TimeProvider Time, IOptions<BookingOptions> Options);

/// <summary>Counted capacity per slot for exhibitions and restaurants (capacity holds are in <c>Holds/</c>).</summary>
public static class CapacityApi
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

        // An existing slot whose counters are not in Redis (dropped while idle, or lost) gets its bookings back before its
        // capacity changes; the script refuses to start one from nothing, should its state go between the two calls.
        (bool Accepted, CapacityCounters Counters)? set = null;
        for (var attempt = 0; attempt < 2 && set is null; attempt++)
        {
            var exists = await services.Holds.LoadAsync(resource!, cancellationToken).ConfigureAwait(false);
            set = await services.Capacity.SetAsync(resource!, request.Capacity!.Value, newSlot: !exists).ConfigureAwait(false);
        }

        var (accepted, counters) = set ?? throw new InvalidOperationException($"The state of {resource} went from Redis twice while its capacity was set.");
        if (!accepted)
        {
            return Problems.Conflict(
                ProblemCodes.InvalidState,
                "Capacity below what is taken",
                $"{counters.Held} units are held and {counters.Booked} booked; capacity cannot go below {counters.Held + counters.Booked}.",
                new Dictionary<string, object?>(StringComparer.Ordinal) { ["held"] = counters.Held, ["booked"] = counters.Booked });
        }

        await UpsertRecordAsync(services, resource!, request.Capacity!.Value, cancellationToken).ConfigureAwait(false);
        await services.Registry.AddAsync(resource!).ConfigureAwait(false);
        return TypedResults.Ok(CapacityDto.From(resource!, counters));
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

    private static async Task UpsertRecordAsync(CapacityServices services, ResourceRef resource, int capacity, CancellationToken cancellationToken)
    {
        var now = services.Time.GetUtcNow();
        var updated = await services.Db.CapacitySlots
            .Where(s => s.Domain == resource.Domain && s.ResourceId == resource.ResourceId && s.Slot == resource.Slot)
            .ExecuteUpdateAsync(setters => setters.SetProperty(s => s.Capacity, capacity).SetProperty(s => s.UpdatedAt, now), cancellationToken)
            .ConfigureAwait(false);
        if (updated == 0)
        {
            services.Db.CapacitySlots.Add(new CapacitySlot
            {
                Domain = resource.Domain,
                ResourceId = resource.ResourceId,
                Slot = resource.Slot!,
                Capacity = capacity,
                UpdatedAt = now,
            });
            try
            {
                await services.Db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (DbUpdateException exception) when (exception.InnerException is Npgsql.PostgresException { SqlState: Npgsql.PostgresErrorCodes.UniqueViolation })
            {
                // A concurrent PUT created the row first; this one's value still wins.
                services.Db.ChangeTracker.Clear();
                await UpsertRecordAsync(services, resource, capacity, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
