using Booking.Api.Holds;
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

/// <summary>A performance's seat map with each seat's live status (seat holds are in <c>Holds/</c>).</summary>
public static class SeatsApi
{
    public static IEndpointRouteBuilder MapSeatsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/performances/{performanceId}").WithTags("Seats");

        group.MapGet("/seats", GetSeatsAsync)
            .RequireAuthorization(BookingAuthentication.UserPolicy)
            .WithName("GetSeats")
            .WithSummary("The seat map of a performance with each seat's status and per-section counts.");

        return app;
    }

    public static async Task<Results<Ok<SeatMapDto>, ValidationProblem, ProblemHttpResult>> GetSeatsAsync(
        string performanceId,
        string? section,
        string? status,
        HoldService holds,
        CancellationToken cancellationToken)
    {
        var validation = new Validation()
            .Check(Identifiers.IsResourceId(performanceId), nameof(performanceId), Identifiers.ResourceIdRule);
        SeatStatus? statusFilter = null;
        if (status is not null)
        {
            if (Identifiers.TryEnumName<SeatStatus>(status, out var parsed))
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

        // Any other spelling of the UUID is the same performance; a string that is no UUID names none.
        var state = Identifiers.TryPerformanceId(performanceId, out var canonical)
            ? await holds.ReadSeatsAsync(ResourceRef.Performance(canonical), cancellationToken).ConfigureAwait(false)
            : null;
        if (state is null)
        {
            return Problems.NotFound($"Performance '{performanceId}'");
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

        return TypedResults.Ok(new SeatMapDto(canonical, sections, seats));
    }
}
