using Microsoft.AspNetCore.Http;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// How middleware answers with RFC 9457 problem details before an endpoint runs: the status, then the problem with
/// the platform's <c>code</c> extension (and, for a validation failure, its <c>errors</c> by field).
/// </summary>
public static class ProblemResponses
{
    public static async Task WriteProblemAsync(
        this IProblemDetailsService problems,
        HttpContext context,
        int status,
        string title,
        string? detail,
        string code,
        IDictionary<string, string[]>? errors = null)
    {
        context.Response.StatusCode = status;
        var problem = new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = { Status = status, Title = title, Detail = detail, Extensions = { ["code"] = code } },
        };
        if (errors is not null)
        {
            problem.ProblemDetails.Extensions["errors"] = errors;
        }

        await problems.WriteAsync(problem).ConfigureAwait(false);
    }
}
