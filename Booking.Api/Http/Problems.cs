using Microsoft.AspNetCore.Http.HttpResults;

namespace Booking.Api.Http;

/// <summary>RFC 9457 problem results that always carry the contract's <c>code</c>.</summary>
public static class Problems
{
    public static ProblemHttpResult Create(int status, string code, string title, string? detail = null, IDictionary<string, object?>? extensions = null)
    {
        var all = new Dictionary<string, object?>(StringComparer.Ordinal) { ["code"] = code };
        if (extensions is not null)
        {
            foreach (var (key, value) in extensions)
            {
                all[key] = value;
            }
        }

        return TypedResults.Problem(detail, statusCode: status, title: title, extensions: all);
    }

    public static ProblemHttpResult NotFound(string what) =>
        Create(StatusCodes.Status404NotFound, ProblemCodes.NotFound, "Not found", $"{what} was not found.");

    public static ProblemHttpResult Conflict(string code, string title, string detail, IDictionary<string, object?>? extensions = null) =>
        Create(StatusCodes.Status409Conflict, code, title, detail, extensions);

    public static ValidationProblem Validation(IDictionary<string, string[]> errors) =>
        TypedResults.ValidationProblem(
            errors,
            title: "The request is not valid",
            extensions: new Dictionary<string, object?>(StringComparer.Ordinal) { ["code"] = ProblemCodes.ValidationFailed });

    public static ValidationProblem Validation(string field, string message) =>
        Validation(new Dictionary<string, string[]>(StringComparer.Ordinal) { [field] = [message] });
}
