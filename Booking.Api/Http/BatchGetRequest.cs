using Microsoft.AspNetCore.Http.HttpResults;

namespace Booking.Api.Http;

/// <summary>A batch get (reservations or details): 1 to <see cref="MaxIds"/> ids, answered in the order asked.</summary>
public sealed record BatchGetRequest(IReadOnlyList<Guid>? Ids)
{
    public const int MaxIds = 100;

    /// <summary>The distinct ids asked for; a validation problem when there are none or too many.</summary>
    public ValidationProblem? Validate(string noun, out List<Guid> ids)
    {
        ids = Ids?.Distinct().ToList() ?? [];
        return ids.Count is 0 or > MaxIds ? Problems.Validation("ids", $"Give 1 to {MaxIds} {noun} ids.") : null;
    }

    /// <summary>The rows found, in the order their ids were asked for, and the ids of those not found.</summary>
    public static (List<TDto> Items, List<Guid> MissingIds) InAskedOrder<TRow, TDto>(
        IReadOnlyList<Guid> ids, IEnumerable<TRow> found, Func<TRow, Guid> id, Func<TRow, TDto> dto)
    {
        var byId = found.ToDictionary(id);
        return (ids.Where(byId.ContainsKey).Select(i => dto(byId[i])).ToList(), ids.Where(i => !byId.ContainsKey(i)).ToList());
    }
}
