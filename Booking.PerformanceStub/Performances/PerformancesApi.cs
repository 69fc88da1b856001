using Booking.PerformanceStub.Data;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Booking.PerformanceStub.Performances;

public sealed record SectionRequest(string? Code, int? Rows, int? SeatsPerRow);

public sealed record CreatePerformanceRequest(string? Title, DateTimeOffset? StartsAt, IReadOnlyList<SectionRequest?>? Sections);

public sealed record SectionDto(string Code, int Capacity, int Remaining);

public sealed record PerformanceDto(Guid Id, string Title, DateTimeOffset StartsAt, IReadOnlyList<SectionDto> Sections)
{
    public static PerformanceDto From(Performance performance) => new(
        performance.Id,
        performance.Title,
        performance.StartsAt,
        performance.Sections.OrderBy(s => s.Code, StringComparer.Ordinal).Select(s => new SectionDto(s.Code, s.Capacity, s.Remaining)).ToList());
}

public sealed record SeatMapDto(Guid PerformanceId, IReadOnlyList<string> SeatIds);

/// <summary>Performances with their sections, and the seat map the booking service loads into Redis.</summary>
public static class PerformancesApi
{
    public const int MaxSeatsPerPerformance = 200_000;

    public static IEndpointRouteBuilder MapPerformancesApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/performances").WithTags("Performances");
        group.MapPost(string.Empty, CreatePerformanceAsync).RequireAuthorization(BookingAuthentication.AdminPolicy)
            .WithName("CreatePerformance").WithSummary("Creates a performance with its sections (role admin).");
        // Reads: any authenticated caller (a user, an admin, or the booking service).
        group.MapGet("/{id:guid}", GetPerformanceAsync).RequireAuthorization()
            .WithName("GetPerformance").WithSummary("A performance with each section's remaining seats.");
        group.MapGet("/{id:guid}/seatmap", GetSeatMapAsync).RequireAuthorization()
            .WithName("GetSeatMap").WithSummary("Every seat id of a performance.");
        return app;
    }

    public static async Task<Results<Created<PerformanceDto>, ValidationProblem>> CreatePerformanceAsync(
        CreatePerformanceRequest request, PerformanceDbContext db, TimeProvider time, CancellationToken cancellationToken)
    {
        var errors = Validate(request);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors, extensions: new Dictionary<string, object?>(StringComparer.Ordinal) { ["code"] = ProblemCodes.ValidationFailed });
        }

        var performance = new Performance
        {
            Id = Guid.CreateVersion7(),
            Title = request.Title!,
            StartsAt = request.StartsAt!.Value.ToUniversalTime(),
            CreatedAt = time.GetUtcNow(),
            Sections = request.Sections!.Select(s => new Section
            {
                Code = s!.Code!,
                Rows = s.Rows!.Value,
                SeatsPerRow = s.SeatsPerRow!.Value,
                Capacity = s.Rows.Value * s.SeatsPerRow.Value,
                Remaining = s.Rows.Value * s.SeatsPerRow.Value,
            }).ToList(),
        };
        db.Performances.Add(performance);
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        return TypedResults.Created($"/performances/{performance.Id}", PerformanceDto.From(performance));
    }

    public static async Task<Results<Ok<PerformanceDto>, ProblemHttpResult>> GetPerformanceAsync(Guid id, PerformanceDbContext db, CancellationToken cancellationToken)
    {
        var performance = await db.Performances.AsNoTracking().Include(p => p.Sections).SingleOrDefaultAsync(p => p.Id == id, cancellationToken).ConfigureAwait(false);
        return performance is null ? NotFound(id) : TypedResults.Ok(PerformanceDto.From(performance));
    }

    public static async Task<Results<Ok<SeatMapDto>, ProblemHttpResult>> GetSeatMapAsync(Guid id, PerformanceDbContext db, CancellationToken cancellationToken)
    {
        var sections = await db.Sections.AsNoTracking().Where(s => s.PerformanceId == id).OrderBy(s => s.Code).ToListAsync(cancellationToken).ConfigureAwait(false);
        if (sections.Count == 0)
        {
            return NotFound(id);
        }

        var seatIds = new List<string>(sections.Sum(s => s.Capacity));
        foreach (var section in sections)
        {
            for (var row = 1; row <= section.Rows; row++)
            {
                for (var number = 1; number <= section.SeatsPerRow; number++)
                {
                    seatIds.Add($"{section.Code}-{row}-{number}");
                }
            }
        }

        return TypedResults.Ok(new SeatMapDto(id, seatIds));
    }

    internal static ProblemHttpResult NotFound(Guid id) => TypedResults.Problem(
        $"Performance '{id}' was not found.",
        statusCode: StatusCodes.Status404NotFound,
        title: "Not found",
        extensions: new Dictionary<string, object?>(StringComparer.Ordinal) { ["code"] = ProblemCodes.NotFound });

    private static Dictionary<string, string[]> Validate(CreatePerformanceRequest request)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (string.IsNullOrWhiteSpace(request.Title) || request.Title.Length > 200)
        {
            errors["title"] = ["A title of 1 to 200 characters is required."];
        }

        if (request.StartsAt is null)
        {
            errors["startsAt"] = ["A start time is required."];
        }

        var sections = request.Sections;
        if (sections is null || sections.Count is 0 or > 100)
        {
            errors["sections"] = ["Give 1 to 100 sections."];
            return errors;
        }

        for (var i = 0; i < sections.Count; i++)
        {
            var section = sections[i];
            if (section?.Code is null || section.Code.Length is 0 or > Section.MaxCodeLength || !section.Code.All(char.IsAsciiLetterOrDigit))
            {
                errors[$"sections[{i}].code"] = [$"A code of 1 to {Section.MaxCodeLength} letters or digits is required."];
            }

            if (section?.Rows is not (>= 1 and <= 1000))
            {
                errors[$"sections[{i}].rows"] = ["Must be a whole number from 1 to 1000."];
            }

            if (section?.SeatsPerRow is not (>= 1 and <= 1000))
            {
                errors[$"sections[{i}].seatsPerRow"] = ["Must be a whole number from 1 to 1000."];
            }
        }

        if (sections.Select(s => s?.Code).Distinct(StringComparer.Ordinal).Count() != sections.Count)
        {
            errors["sections"] = ["Section codes must not repeat."];
        }
        else if (errors.Count == 0 && sections.Sum(s => (long)s!.Rows!.Value * s.SeatsPerRow!.Value) > MaxSeatsPerPerformance)
        {
            errors["sections"] = [$"A performance has at most {MaxSeatsPerPerformance} seats."];
        }

        return errors;
    }
}
