using System.Text.Json;
using Booking.Api.Http;
using Booking.Api.Idempotency;
using Booking.Api.Reservations;
using Booking.Core;
using Booking.Core.Data;
using Booking.Core.Reservations;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace Booking.Api.Details;

public sealed record DetailRequest(string? Type, JsonElement? Data);

public sealed record DetailBatch(IReadOnlyList<DetailDto> Items, IReadOnlyList<Guid> MissingIds);

public sealed record DetailServices(BookingDbContext Db, TimeProvider Time);

/// <summary>Per-domain JSON details of a reservation (stored as jsonb), one at a time or in batches.</summary>
public static class DetailsApi
{
    public static IEndpointRouteBuilder MapDetailsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/reservations/{id:guid}/details").WithTags("Details").RequireCaller();

        group.MapGet(string.Empty, ListDetailsAsync).WithName("ListDetails").WithSummary("Every detail of a reservation.");
        group.MapPost(string.Empty, CreateDetailAsync).AcceptsIdempotencyKey().WithName("CreateDetail").WithSummary("Adds a detail to a reservation.");
        group.MapGet("/{detailId:guid}", GetDetailAsync).WithName("GetDetail").WithSummary("One detail.");
        group.MapPut("/{detailId:guid}", UpdateDetailAsync).WithName("UpdateDetail").WithSummary("Replaces a detail's type and data.");
        group.MapDelete("/{detailId:guid}", DeleteDetailAsync).WithName("DeleteDetail").WithSummary("Removes a detail.");

        app.MapGroup("/api/reservation-details").WithTags("Details").RequireCaller()
            .MapPost("/batch-get", BatchGetDetailsAsync)
            .WithName("BatchGetDetails")
            .WithSummary("Up to 100 details, of the caller's reservations, by id.");

        return app;
    }

    public static async Task<Results<Ok<List<DetailDto>>, ProblemHttpResult>> ListDetailsAsync(
        Guid id, HttpContext httpContext, BookingDbContext db, CancellationToken cancellationToken)
    {
        var reservation = await FindOwnAsync(db, id, httpContext.GetUserId(), cancellationToken).ConfigureAwait(false);
        return reservation is null
            ? Problems.NotFound($"Reservation '{id}'")
            : TypedResults.Ok(reservation.Details.OrderBy(d => d.CreatedAt).ThenBy(d => d.Id).Select(DetailDto.From).ToList());
    }

    public static async Task<Results<Ok<DetailDto>, ProblemHttpResult>> GetDetailAsync(
        Guid id, Guid detailId, HttpContext httpContext, BookingDbContext db, CancellationToken cancellationToken)
    {
        var reservation = await FindOwnAsync(db, id, httpContext.GetUserId(), cancellationToken).ConfigureAwait(false);
        var detail = reservation?.Details.SingleOrDefault(d => d.Id == detailId);
        return detail is null ? Problems.NotFound($"Detail '{detailId}' of reservation '{id}'") : TypedResults.Ok(DetailDto.From(detail));
    }

    public static async Task<Results<Created<DetailDto>, ValidationProblem, ProblemHttpResult>> CreateDetailAsync(
        Guid id, DetailRequest request, HttpContext httpContext, [AsParameters] DetailServices services, CancellationToken cancellationToken)
    {
        await using var transaction = await LockAsync(services.Db, id, httpContext.GetUserId(), cancellationToken).ConfigureAwait(false);
        var reservation = await FindOwnAsync(services.Db, id, httpContext.GetUserId(), cancellationToken, tracking: true).ConfigureAwait(false);
        if (reservation is null)
        {
            return Problems.NotFound($"Reservation '{id}'");
        }

        if (Closed(reservation) is { } closed)
        {
            return closed;
        }

        if (Invalid(reservation, request) is { } invalid)
        {
            return invalid;
        }

        if (reservation.Details.Count >= ReservationsApi.MaxDetailsPerReservation)
        {
            return Problems.Validation("details", $"A reservation has at most {ReservationsApi.MaxDetailsPerReservation} details.");
        }

        if (OverTotal(reservation.Details.Sum(d => DetailRules.Size(d.Data)) + DetailRules.Size(request.Data!.Value)) is { } tooMuch)
        {
            return tooMuch;
        }

        var detail = ReservationDetail.Create(reservation.Id, request.Type!, request.Data!.Value, services.Time.UtcNowMicros());
        services.Db.ReservationDetails.Add(detail);
        await services.Db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return TypedResults.Created($"/api/reservations/{id}/details/{detail.Id}", DetailDto.From(detail));
    }

    public static async Task<Results<Ok<DetailDto>, ValidationProblem, ProblemHttpResult>> UpdateDetailAsync(
        Guid id, Guid detailId, DetailRequest request, HttpContext httpContext, [AsParameters] DetailServices services, CancellationToken cancellationToken)
    {
        await using var transaction = await LockAsync(services.Db, id, httpContext.GetUserId(), cancellationToken).ConfigureAwait(false);
        var reservation = await FindOwnAsync(services.Db, id, httpContext.GetUserId(), cancellationToken, tracking: true).ConfigureAwait(false);
        var detail = reservation?.Details.SingleOrDefault(d => d.Id == detailId);
        if (detail is null)
        {
            return Problems.NotFound($"Detail '{detailId}' of reservation '{id}'");
        }

        if (Closed(reservation!) is { } closed)
        {
            return closed;
        }

        if (Invalid(reservation!, request) is { } invalid)
        {
            return invalid;
        }

        if (OverTotal(reservation!.Details.Where(d => d.Id != detailId).Sum(d => DetailRules.Size(d.Data)) + DetailRules.Size(request.Data!.Value)) is { } tooMuch)
        {
            return tooMuch;
        }

        detail.Data.Dispose();
        detail.Type = request.Type!;
        detail.Data = JsonDocument.Parse(request.Data!.Value.GetRawText());
        detail.UpdatedAt = services.Time.UtcNowMicros();
        await services.Db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return TypedResults.Ok(DetailDto.From(detail));
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteDetailAsync(
        Guid id, Guid detailId, HttpContext httpContext, BookingDbContext db, CancellationToken cancellationToken)
    {
        await using var transaction = await LockAsync(db, id, httpContext.GetUserId(), cancellationToken).ConfigureAwait(false);
        var reservation = await FindOwnAsync(db, id, httpContext.GetUserId(), cancellationToken, tracking: true).ConfigureAwait(false);
        var detail = reservation?.Details.SingleOrDefault(d => d.Id == detailId);
        if (detail is null)
        {
            return Problems.NotFound($"Detail '{detailId}' of reservation '{id}'");
        }

        if (Closed(reservation!) is { } closed)
        {
            return closed;
        }

        db.ReservationDetails.Remove(detail);
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return TypedResults.NoContent();
    }

    public static async Task<Results<Ok<DetailBatch>, ValidationProblem>> BatchGetDetailsAsync(
        BatchGetRequest request, HttpContext httpContext, BookingDbContext db, CancellationToken cancellationToken)
    {
        if (request.Validate("detail", out var ids) is { } invalid)
        {
            return invalid;
        }

        var userId = httpContext.GetUserId();
        var found = await db.ReservationDetails.AsNoTracking()
            .Where(d => ids.Contains(d.Id) && db.Reservations.Any(r => r.Id == d.ReservationId && r.UserId == userId))
            .ToListAsync(cancellationToken)
            .ConfigureAwait(false);
        var (items, missingIds) = BatchGetRequest.InAskedOrder(ids, found, d => d.Id, DetailDto.From);
        return TypedResults.Ok(new DetailBatch(items, missingIds));
    }

    /// <summary>
    /// Serialises the changes to one reservation's details: the limits on their number and total size are checked
    /// against what is committed and then written, and a detail replaced or removed is not changed under another
    /// request, under the reservation row's lock (held until the transaction ends).
    /// </summary>
    private static async Task<IDbContextTransaction> LockAsync(BookingDbContext db, Guid id, string userId, CancellationToken cancellationToken)
    {
        var transaction = await db.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Only the caller's own reservation, and not waiting long for it: a request that cannot have the row within
            // two seconds is answered 503 (PostgreSQL's lock_not_available) rather than holding a pooled connection.
            await db.Database.ExecuteSqlRawAsync("SET LOCAL lock_timeout = '2s'", cancellationToken).ConfigureAwait(false);
            await db.Database.ExecuteSqlAsync($"SELECT 1 FROM reservations WHERE id = {id} AND user_id = {userId} FOR UPDATE", cancellationToken).ConfigureAwait(false);
            return transaction;
        }
        catch
        {
            await transaction.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static Task<Reservation?> FindOwnAsync(BookingDbContext db, Guid id, string userId, CancellationToken cancellationToken, bool tracking = false)
    {
        var query = db.Reservations.Include(r => r.Details).AsQueryable();
        return (tracking ? query : query.AsNoTracking()).SingleOrDefaultAsync(r => r.Id == id && r.UserId == userId, cancellationToken);
    }

    private static ValidationProblem? Invalid(Reservation reservation, DetailRequest request)
    {
        var validation = new Validation();
        DetailRules.Validate(validation, string.Empty, reservation.Domain, reservation.SeatIds, reservation.Quantity, request.Type, request.Data);
        return validation.IsValid ? null : Problems.Validation(validation.Errors);
    }

    /// <summary>Details of a reservation that failed or is being cancelled are frozen: they describe what happened.</summary>
    private static ProblemHttpResult? Closed(Reservation reservation) =>
        reservation.Status is ReservationStatus.Pending or ReservationStatus.Confirmed
            ? null
            : Problems.Conflict(ProblemCodes.InvalidState, "Reservation is closed",
                $"Details of a {reservation.Status.ToString().ToUpperInvariant()} reservation cannot change.");

    private static ValidationProblem? OverTotal(long totalBytes)
    {
        var validation = new Validation();
        DetailRules.CheckTotal(validation, totalBytes);
        return validation.IsValid ? null : Problems.Validation(validation.Errors);
    }
}
