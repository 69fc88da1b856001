using System.Diagnostics;
using System.Text.Json;
using Booking.Api.Details;
using Booking.Api.Http;
using Booking.Api.Idempotency;
using Booking.Core;
using Booking.Core.Data;
using Booking.Core.Holds;
using Booking.Core.Outbox;
using Booking.Core.Reservations;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;
using StackExchange.Redis;

namespace Booking.Api.Reservations;

public sealed record CreateReservationRequest(Guid? HoldId, IReadOnlyList<DetailRequest?>? Details, ContactDto? Contact);

public sealed record ReservationPage(IReadOnlyList<ReservationDto> Items, string? NextCursor);

public sealed record ReservationBatch(IReadOnlyList<ReservationDto> Items, IReadOnlyList<Guid> MissingIds);

public sealed record ReservationServices(ReservationCommitter Committer, BookingDbContext Db, HoldEngine Holds, TimeProvider Time, IOptions<BookingOptions> Options);

/// <summary>Reservations: made from a hold, finished by the saga, read one or many at a time, cancelled.</summary>
public static class ReservationsApi
{
    public const int MaxDetailsPerReservation = 50;
    public const int MaxPageSize = 200;
    public const int DefaultPageSize = 50;

    /// <summary>How often a cancel reads the reservation again when the saga changed it between the read and the write.</summary>
    private const int MaxCancelAttempts = 3;

    public static IEndpointRouteBuilder MapReservationsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/reservations").WithTags("Reservations").RequireCaller();

        group.MapPost(string.Empty, CreateReservationAsync)
            .AcceptsIdempotencyKey()
            .WithName("CreateReservation")
            .WithSummary("Turns a hold into a PENDING reservation; the saga confirms it.");

        group.MapGet("/{id:guid}", GetReservationAsync)
            .WithName("GetReservation")
            .WithSummary("One of the caller's reservations, with its details and saga steps.");

        group.MapGet(string.Empty, ListReservationsAsync)
            .WithName("ListReservations")
            .WithSummary("The caller's reservations, newest first, a page at a time.");

        group.MapPost("/batch-get", BatchGetReservationsAsync)
            .WithName("BatchGetReservations")
            .WithSummary("Up to 100 of the caller's reservations by id.");

        group.MapPost("/{id:guid}/cancel", CancelReservationAsync)
            .AcceptsIdempotencyKey()
            .WithName("CancelReservation")
            .WithSummary("Asks the saga to undo a reservation; it ends CANCELLED.");

        return app;
    }

    public static async Task<Results<Accepted<ReservationDto>, ValidationProblem, ProblemHttpResult>> CreateReservationAsync(
        CreateReservationRequest request, HttpContext httpContext, [AsParameters] ReservationServices services, CancellationToken cancellationToken)
    {
        var validation = new Validation().Check(request.HoldId is not null, "holdId", "A hold id is required.");
        ValidateContact(validation, request.Contact);
        validation.Check((request.Details?.Count ?? 0) <= MaxDetailsPerReservation, "details", $"At most {MaxDetailsPerReservation} details.");
        if (!validation.IsValid)
        {
            return Problems.Validation(validation.Errors);
        }

        var holdId = request.HoldId!.Value;
        var hold = await services.Holds.FindAsync(holdId).ConfigureAwait(false);
        if (hold is null || hold.UserId != httpContext.GetUserId())
        {
            return Problems.NotFound($"Hold '{holdId}'");
        }

        if (Unusable(hold) is { } unusable)
        {
            return unusable;
        }

        if (ValidateDetails(hold, request.Details ?? []) is { } invalid)
        {
            return invalid;
        }

        var reservation = Reservation.FromHold(hold, request.Contact is { } c ? new ContactInfo { Name = c.Name, Phone = c.Phone, Email = c.Email } : null,
            (request.Details ?? []).Select(d => (d!.Type!, d.Data!.Value)), services.Time.UtcNowMicros(), services.Options.Value, Activity.Current?.Id);

        // From here the hold is the reservation's: the user cannot release it and it outlives any relay lag. Redis's
        // clock, not this process's, decides whether it is still live.
        PinOutcome pinned;
        try
        {
            pinned = await services.Holds.PinAsync(hold.Resource, holdId, hold.UserId, reservation.Id, services.Options.Value.ReservedHoldLease).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            // Redis may have pinned the hold without its answer reaching us: the caller gets a 503 and retries, and would
            // meet its own hold pinned for an hour to a reservation that was never stored. So the pin is undone in the
            // background, sent after it on the same connection (it undoes only a pin to this reservation).
            _ = UnpinQuietlyAsync(services.Holds, hold.Resource, holdId, reservation.Id);
            throw;
        }

        return pinned switch
        {
            PinOutcome.Expired => HoldExpired(holdId),
            PinOutcome.Released => HoldReleased(holdId),
            PinOutcome.Used => HoldAlreadyUsed(holdId),
            PinOutcome.NotFound => Problems.NotFound($"Hold '{holdId}'"),
            _ => await CommitAsync(reservation, hold, services, cancellationToken).ConfigureAwait(false),
        };
    }

    /// <summary>Each detail valid for the hold's domain and units, and all of them within the total size bound.</summary>
    private static ValidationProblem? ValidateDetails(HoldRecord hold, IReadOnlyList<DetailRequest?> details)
    {
        var validation = new Validation();
        for (var i = 0; i < details.Count; i++)
        {
            DetailRules.Validate(validation, $"details[{i}].", hold.Resource.Domain, hold.SeatIds, hold.Quantity, details[i]?.Type, details[i]?.Data);
        }

        if (validation.IsValid)
        {
            DetailRules.CheckTotal(validation, details.Sum(d => DetailRules.Size(d!.Data!.Value)));
        }

        return validation.IsValid ? null : Problems.Validation(validation.Errors);
    }

    /// <summary>
    /// The reservation, its saga and the event that starts the saga commit together (with the reservations requested
    /// alongside it), or not at all; if not, the hold goes back to the user as it was.
    /// </summary>
    private static async Task<Results<Accepted<ReservationDto>, ValidationProblem, ProblemHttpResult>> CommitAsync(
        Reservation reservation, HoldRecord hold, ReservationServices services, CancellationToken cancellationToken)
    {
        var stored = false;
        try
        {
            await services.Committer.CommitAsync(reservation, OutboxWriter.Create(BookingTopics.Requested, reservation, reservation.CreatedAt)).ConfigureAwait(false);
            stored = true;
            return TypedResults.Accepted($"/api/reservations/{reservation.Id}", ReservationDto.From(reservation));
        }
        catch (DbUpdateException exception) when (exception.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation, ConstraintName: ReservationSeat.KeyName })
        {
            // Redis let the hold through, but PostgreSQL holds a live reservation of one of its seats (Redis lost
            // writes): the database is the final guard, so no seat is ever sold twice.
            var taken = await services.Db.ReservationSeats.AsNoTracking()
                .Where(s => s.ResourceId == hold.Resource.ResourceId && hold.SeatIds.Contains(s.SeatId))
                .Select(s => s.SeatId)
                .ToListAsync(cancellationToken)
                .ConfigureAwait(false);
            return Problems.Conflict(ProblemCodes.SeatsUnavailable, "Seats unavailable", "Some seats of the hold are already booked.",
                new Dictionary<string, object?>(StringComparer.Ordinal) { ["unavailableSeatIds"] = taken });
        }
        catch (DbUpdateException exception) when (exception.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            return HoldAlreadyUsed(hold.HoldId);
        }
        finally
        {
            if (!stored)
            {
                await UnpinQuietlyAsync(services.Holds, hold.Resource, hold.HoldId, reservation.Id).ConfigureAwait(false);
            }
        }
    }

    public static async Task<Results<Ok<ReservationDto>, ProblemHttpResult>> GetReservationAsync(
        Guid id, HttpContext httpContext, BookingDbContext db, CancellationToken cancellationToken)
    {
        var userId = httpContext.GetUserId();
        var reservation = await WithEverything(db)
            .SingleOrDefaultAsync(r => r.Id == id && r.UserId == userId, cancellationToken)
            .ConfigureAwait(false);
        return reservation is null ? Problems.NotFound($"Reservation '{id}'") : TypedResults.Ok(ReservationDto.From(reservation));
    }

    public static async Task<Results<Ok<ReservationPage>, ValidationProblem>> ListReservationsAsync(
        HttpContext httpContext,
        BookingDbContext db,
        string? domain,
        string? status,
        string? resourceId,
        string? limit,
        string? cursor,
        CancellationToken cancellationToken)
    {
        // An empty value is no value (API.md's own example sends every parameter, empty where unused).
        (domain, status, resourceId, limit, cursor) = (NullIfEmpty(domain), NullIfEmpty(status), NullIfEmpty(resourceId), NullIfEmpty(limit), NullIfEmpty(cursor));
        var validation = new Validation();
        var domainFilter = ParseEnum<BookingDomain>(validation, nameof(domain), domain);
        var statusFilter = ParseEnum<ReservationStatus>(validation, nameof(status), status);
        var pageSize = DefaultPageSize;
        if (limit is not null)
        {
            validation.Check(int.TryParse(limit, out pageSize) && pageSize is >= 1 and <= MaxPageSize, nameof(limit), $"Must be a whole number from 1 to {MaxPageSize}.");
        }

        ReservationCursor? after = null;
        if (cursor is not null)
        {
            validation.Check(ReservationCursor.TryDecode(cursor, out after), nameof(cursor), "Is not a cursor this API returned.");
        }

        validation.Check(resourceId is null || Identifiers.IsResourceId(resourceId), nameof(resourceId), Identifiers.ResourceIdRule);
        if (!validation.IsValid)
        {
            return Problems.Validation(validation.Errors);
        }

        // The page's rows first, then everything of exactly those: the split queries that load details and saga steps
        // each run their parent query again, and one with the filter and the limit in it would find another window if
        // a reservation were created or changed status in between (and leave the page's details and steps empty).
        var rows = await Filtered(db.Reservations.Where(r => r.UserId == httpContext.GetUserId()), domainFilter, statusFilter, resourceId, after)
            .OrderByDescending(r => r.CreatedAt)
            .ThenByDescending(r => r.Id)
            .Select(r => new ReservationCursor(r.CreatedAt, r.Id))
            .Take(pageSize + 1)
            .ToListAsync(cancellationToken)
            .ConfigureAwait(false);
        var ids = rows.Take(pageSize).Select(r => r.Id).ToList();
        var page = await WithEverything(db)
            .Where(r => ids.Contains(r.Id))
            .OrderByDescending(r => r.CreatedAt)
            .ThenByDescending(r => r.Id)
            .ToListAsync(cancellationToken)
            .ConfigureAwait(false);

        var next = rows.Count > pageSize ? rows[pageSize - 1].Encode() : null;
        return TypedResults.Ok(new ReservationPage(page.Select(ReservationDto.From).ToList(), next));
    }

    public static async Task<Results<Ok<ReservationBatch>, ValidationProblem>> BatchGetReservationsAsync(
        BatchGetRequest request, HttpContext httpContext, BookingDbContext db, CancellationToken cancellationToken)
    {
        if (request.Validate("reservation", out var ids) is { } invalid)
        {
            return invalid;
        }

        var userId = httpContext.GetUserId();
        var found = await WithEverything(db)
            .Where(r => ids.Contains(r.Id) && r.UserId == userId)
            .ToListAsync(cancellationToken)
            .ConfigureAwait(false);
        var (items, missingIds) = BatchGetRequest.InAskedOrder(ids, found, r => r.Id, ReservationDto.From);
        return TypedResults.Ok(new ReservationBatch(items, missingIds));
    }

    public static async Task<Results<Accepted<ReservationDto>, ProblemHttpResult>> CancelReservationAsync(
        Guid id, HttpContext httpContext, [AsParameters] ReservationServices services, CancellationToken cancellationToken)
    {
        var userId = httpContext.GetUserId();
        for (var attempt = 1; ; attempt++)
        {
            var reservation = await WithEverything(services.Db).AsTracking()
                .SingleOrDefaultAsync(r => r.Id == id && r.UserId == userId, cancellationToken)
                .ConfigureAwait(false);
            if (reservation is null)
            {
                return Problems.NotFound($"Reservation '{id}'");
            }

            switch (reservation.Status)
            {
                case ReservationStatus.Failed:
                    return Problems.Conflict(ProblemCodes.InvalidState, "Reservation failed", "A failed reservation has nothing to cancel.");
                case ReservationStatus.Pending or ReservationStatus.Confirmed:
                    reservation.RequestCancel(services.Time.UtcNowMicros());
                    try
                    {
                        await services.Db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
                    }
                    catch (DbUpdateConcurrencyException) when (attempt < MaxCancelAttempts)
                    {
                        // The saga moved the reservation on meanwhile (PENDING to CONFIRMED, say): decide again on what it is now.
                        services.Db.ChangeTracker.Clear();
                        continue;
                    }
                    catch (DbUpdateConcurrencyException)
                    {
                        // Says to retry: a retry with the same Idempotency-Key must run again, not be told this again.
                        httpContext.RunAgainOnRetry();
                        return Problems.Conflict(ProblemCodes.InvalidState, "Reservation changed", "The reservation kept changing while cancelling; retry.");
                    }

                    break;
            }

            return TypedResults.Accepted($"/api/reservations/{reservation.Id}", ReservationDto.From(reservation));
        }
    }

    private static IQueryable<Reservation> Filtered(IQueryable<Reservation> query, BookingDomain? domain, ReservationStatus? status, string? resourceId, ReservationCursor? after)
    {
        if (domain is { } d)
        {
            query = query.Where(r => r.Domain == d);
        }

        if (status is { } s)
        {
            query = query.Where(r => r.Status == s);
        }

        if (resourceId is not null)
        {
            // A performance is stored under its canonical UUID (Identifiers.TryPerformanceId), so any spelling of it
            // finds its reservations; other domains' ids are taken as they are.
            var performance = Identifiers.TryPerformanceId(resourceId, out var canonical) ? canonical : null;
            query = query.Where(r => r.ResourceId == resourceId || (r.Domain == BookingDomain.Performance && r.ResourceId == performance));
        }

        // A row comparison, (created_at, id) < (@t, @id), which walks the (user_id, created_at, id) index.
        return after is null ? query : query.Where(r => EF.Functions.LessThan(ValueTuple.Create(r.CreatedAt, r.Id), ValueTuple.Create(after.CreatedAt, after.Id)));
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    internal static IQueryable<Reservation> WithEverything(BookingDbContext db) =>
        db.Reservations.AsNoTracking().Include(r => r.Details).Include(r => r.Saga).ThenInclude(s => s!.Steps).AsSplitQuery();

    /// <summary>
    /// The answer for a hold that is plainly used up. Whether a HELD one is still live, and whether a RELEASED one
    /// was released by its user or given back by the saga of the reservation it became, pinning decides.
    /// </summary>
    private static ProblemHttpResult? Unusable(HoldRecord hold) => hold.State switch
    {
        HoldState.Booked or HoldState.Unbooked => HoldAlreadyUsed(hold.HoldId),
        HoldState.Expired => HoldExpired(hold.HoldId),
        _ => null,
    };

    private static async Task UnpinQuietlyAsync(HoldEngine holds, ResourceRef resource, Guid holdId, Guid reservationId)
    {
        try
        {
            await holds.UnpinAsync(resource, holdId, reservationId).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException or OperationCanceledException)
        {
            // Redis went away too: the pinned hold frees its units when its lease ends.
        }
    }

    private static ProblemHttpResult HoldExpired(Guid holdId) =>
        Problems.Conflict(ProblemCodes.HoldExpired, "Hold expired", $"Hold '{holdId}' expired; hold the units again.");

    // API.md names no code for a hold its owner released: to the client it is gone as an expired one is, and the
    // remedy is the same (hold again), so it shares HOLD_EXPIRED and says which in its title.
    private static ProblemHttpResult HoldReleased(Guid holdId) =>
        Problems.Conflict(ProblemCodes.HoldExpired, "Hold released", $"Hold '{holdId}' was released.");

    private static ProblemHttpResult HoldAlreadyUsed(Guid holdId) =>
        Problems.Conflict(ProblemCodes.HoldAlreadyUsed, "Hold already used", $"Hold '{holdId}' already became a reservation.");

    private static void ValidateContact(Validation validation, ContactDto? contact)
    {
        if (contact is null)
        {
            return;
        }

        validation
            .Check(contact.Name is null || contact.Name.Length <= ContactInfo.MaxNameLength, "contact.name", $"Must be at most {ContactInfo.MaxNameLength} characters.")
            .Check(contact.Phone is null || (contact.Phone.Length <= ContactInfo.MaxPhoneLength && contact.Phone.All(ch => char.IsDigit(ch) || " +-()".Contains(ch, StringComparison.Ordinal))), "contact.phone", $"Must be a phone number of at most {ContactInfo.MaxPhoneLength} characters.")
            .Check(contact.Email is null || (contact.Email.Length <= ContactInfo.MaxEmailLength && contact.Email.IndexOf('@', StringComparison.Ordinal) > 0), "contact.email", "Must be an e-mail address.");
    }

    private static TEnum? ParseEnum<TEnum>(Validation validation, string field, string? value) where TEnum : struct, Enum
    {
        if (value is null)
        {
            return null;
        }

        if (Identifiers.TryEnumName<TEnum>(value, out var parsed))
        {
            return parsed;
        }

        validation.Add(field, $"Must be one of {string.Join(", ", Enum.GetNames<TEnum>().Select(n => n.ToUpperInvariant()))}.");
        return null;
    }
}
