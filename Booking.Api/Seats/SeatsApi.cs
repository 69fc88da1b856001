using Booking.Api.Http;
using Booking.Core;
using Booking.Core.Holds;
using Booking.Core.Seats;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Booking.Api.Seats;

public sealed record SectionDto(string Code, int Capacity, int Available, int Held, int Booked);

public sealed record SeatDto(string SeatId, string Section, SeatStatus Status);

public sealed record SeatMapDto(string PerformanceId, IReadOnlyList<SectionDto> Sections, IReadOnlyList<SeatDto> Seats);

public sealed record CreateSeatHoldRequest(IReadOnlyList<string?>? SeatIds);

public sealed record SeatHoldDto(Guid HoldId, string PerformanceId, IReadOnlyList<string> SeatIds, DateTimeOffset ExpiresAt);

public sealed class SeatServices(SeatEngine seats, NaiveSeatHolder naive, SeatStateLoader loader, IOptions<BookingOptions> options)
{
    public SeatEngine Seats { get; } = seats;
    public NaiveSeatHolder Naive { get; } = naive;

    /// <summary>Holds with the configured strategy: the Lua script, or the per-seat-lock design it replaced.</summary>
    public Task<HoldAttempt> HoldAsync(string performanceId, Guid holdId, string userId, TimeSpan ttl, IReadOnlyList<string> seatIds) =>
        string.Equals(Options.Value.HoldStrategy, "naive", StringComparison.OrdinalIgnoreCase)
            ? Naive.HoldAsync(performanceId, holdId, userId, ttl, seatIds)
            : Seats.HoldAsync(performanceId, holdId, userId, ttl, seatIds);
    public SeatStateLoader Loader { get; } = loader;
    public IOptions<BookingOptions> Options { get; } = options;
}

/// <summary>A performance's seats: the seat map with live status, and holding many seats in one Lua call.</summary>
public static class SeatsApi
{
    public static IEndpointRouteBuilder MapSeatsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/performances/{performanceId}").WithTags("Seats");

        group.MapGet("/seats", GetSeatsAsync)
            .RequireAuthorization(BookingAuthentication.UserPolicy)
            .WithName("GetSeats")
            .WithSummary("The seat map of a performance with each seat's status and per-section counts.");

        group.MapGroup(string.Empty).RequireCaller()
            .MapPost("/holds", CreateHoldAsync)
            .RequireRateLimiting(HoldRateLimit.PolicyName)
            .WithName("CreateSeatHold")
            .WithSummary("Holds every requested seat or none, until the hold expires.");

        return app;
    }

    public static async Task<Results<Ok<SeatMapDto>, ValidationProblem, ProblemHttpResult>> GetSeatsAsync(
        string performanceId,
        string? section,
        string? status,
        [AsParameters] SeatServices services,
        CancellationToken cancellationToken)
    {
        var validation = new Validation()
            .Check(Identifiers.IsResourceId(performanceId), nameof(performanceId), "Must be 1-64 letters, digits, '.', '_' or '-'.");
        SeatStatus? statusFilter = null;
        if (status is not null)
        {
            if (Enum.TryParse<SeatStatus>(status, ignoreCase: true, out var parsed) && !int.TryParse(status, out _))
            {
                statusFilter = parsed;
            }
            else
            {
                validation.Add(nameof(status), "Must be AVAILABLE, HELD or BOOKED.");
            }
        }

        if (!validation.IsValid)
        {
            return Problems.Validation(validation.Errors);
        }

        var state = await services.Seats.ReadAsync(performanceId).ConfigureAwait(false);
        if (state is null)
        {
            if (!await services.Loader.LoadAsync(performanceId, cancellationToken).ConfigureAwait(false))
            {
                return Problems.NotFound($"Performance '{performanceId}'");
            }

            state = await services.Seats.ReadAsync(performanceId).ConfigureAwait(false) ?? throw new InvalidOperationException("Seat state vanished after loading.");
        }

        var inSection = state.Where(seat => section is null || SeatIds.Section(seat.Key) == section).ToList();
        var sections = inSection
            .GroupBy(seat => SeatIds.Section(seat.Key), StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new SectionDto(
                g.Key,
                g.Count(),
                g.Count(seat => seat.Value == SeatStatus.Available),
                g.Count(seat => seat.Value == SeatStatus.Held),
                g.Count(seat => seat.Value == SeatStatus.Booked)))
            .ToList();
        var seats = inSection
            .Where(seat => statusFilter is null || seat.Value == statusFilter)
            .Select(seat => new SeatDto(seat.Key, SeatIds.Section(seat.Key), seat.Value))
            .ToList();
        seats.Sort((a, b) => SeatIds.Compare(a.SeatId, b.SeatId));

        return TypedResults.Ok(new SeatMapDto(performanceId, sections, seats));
    }

    public static async Task<Results<Created<SeatHoldDto>, ValidationProblem, ProblemHttpResult>> CreateHoldAsync(
        string performanceId,
        CreateSeatHoldRequest request,
        HttpContext httpContext,
        [AsParameters] SeatServices services,
        CancellationToken cancellationToken)
    {
        var maxSeats = services.Options.Value.MaxSeatsPerHold;
        var seatIds = request.SeatIds;
        var validation = new Validation()
            .Check(Identifiers.IsResourceId(performanceId), nameof(performanceId), "Must be 1-64 letters, digits, '.', '_' or '-'.");
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
        var userId = httpContext.GetUserId();
        var holdId = Guid.CreateVersion7();
        var ttl = services.Options.Value.HoldTtl;

        var attempt = await services.HoldAsync(performanceId, holdId, userId, ttl, seats).ConfigureAwait(false);
        if (attempt.Status == HoldAttemptStatus.NotLoaded)
        {
            if (!await services.Loader.LoadAsync(performanceId, cancellationToken).ConfigureAwait(false))
            {
                return Problems.NotFound($"Performance '{performanceId}'");
            }

            attempt = await services.HoldAsync(performanceId, holdId, userId, ttl, seats).ConfigureAwait(false);
        }

        return attempt.Status switch
        {
            HoldAttemptStatus.Held => TypedResults.Created(
                $"/api/holds/{holdId}",
                new SeatHoldDto(holdId, performanceId, seats, attempt.ExpiresAt)),
            HoldAttemptStatus.UnknownSeats => Problems.Validation("seatIds", $"Unknown seats: {string.Join(", ", attempt.Conflicting)}."),
            HoldAttemptStatus.Unavailable => Problems.Conflict(
                ProblemCodes.SeatsUnavailable,
                "Seats unavailable",
                "Some of the requested seats are held or booked; nothing was held.",
                new Dictionary<string, object?>(StringComparer.Ordinal) { ["unavailableSeatIds"] = attempt.Conflicting }),
            _ => throw new InvalidOperationException($"Seat state of performance {performanceId} is missing after loading."),
        };
    }
}
