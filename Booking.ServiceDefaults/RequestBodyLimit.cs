using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Caps request bodies well below Kestrel's 30 MB default, in every service: the largest legitimate body is a
/// reservation with its details (the performance service's, a batch of 500 allocations, is far smaller). A declared
/// length over the cap is refused at once as 413 problem details; a chunked body that grows past it fails while it
/// is read, which the exception handler also turns into a 413.
/// </summary>
public sealed class RequestBodyLimit(RequestDelegate next, IProblemDetailsService problems)
{
    public const long MaxBytes = 1024 * 1024;

    public async Task InvokeAsync(HttpContext context)
    {
        if (context.Request.ContentLength > MaxBytes)
        {
            await problems.WriteProblemAsync(context, StatusCodes.Status413PayloadTooLarge, "Request body too large",
                $"Request bodies are limited to {MaxBytes / 1024} KiB.", ProblemCodes.ValidationFailed).ConfigureAwait(false);
            return;
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = MaxBytes;
        }

        await next(context).ConfigureAwait(false);
    }
}
