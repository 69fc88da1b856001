using System.Net;
using System.Net.Http.Json;

namespace Booking.SagaWorker.Saga;

/// <summary>One allocation of a batch: a section of a performance for a reservation, in the trace of its saga step.</summary>
public sealed record AllocationRequest(Guid PerformanceId, string Section, Guid ReservationId, int Seats, string? TraceParent);

/// <summary>Allocation calls to the performance service (<c>http://performance-stub</c>).</summary>
public sealed class PerformanceAllocationClient(HttpClient http)
{
    private sealed record BatchResponse(IReadOnlyList<BatchResult> Results);

    private sealed record BatchResult(string Section, string Status);

    /// <summary>Many allocations in one call; one step result per allocation, in order. Throws when the call fails.</summary>
    public async Task<IReadOnlyList<StepResult>> AllocateBatchAsync(IReadOnlyList<AllocationRequest> allocations, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsJsonAsync("/allocations/batch", new { allocations }, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            var failed = StepResult.Retry($"Allocation failed ({(int)response.StatusCode})");
            return [.. allocations.Select(_ => failed)];
        }

        var body = await response.Content.ReadFromJsonAsync<BatchResponse>(cancellationToken).ConfigureAwait(false);
        if (body?.Results is not { } results || results.Count != allocations.Count)
        {
            throw new InvalidOperationException("The performance service answered an allocation batch with a different number of results.");
        }

        return [.. results.Select(r => r.Status switch
        {
            "ALLOCATED" => StepResult.Done,
            ProblemCodes.DependencyUnavailable => StepResult.Retry($"the performance service could not allocate section {r.Section} now."),
            var code => StepResult.Fail(code, $"the performance service refused section {r.Section}."),
        })];
    }

    public async Task<StepResult> DeallocateAsync(string performanceId, string section, Guid reservationId, CancellationToken cancellationToken)
    {
        using var response = await http.DeleteAsync($"/performances/{performanceId}/sections/{section}/allocations/{reservationId}", cancellationToken)
            .ConfigureAwait(false);
        return response.IsSuccessStatusCode || await IsNoSuchSectionAsync(response, cancellationToken).ConfigureAwait(false)
            ? StepResult.Done
            : StepResult.Retry($"Deallocation of section {section} failed ({(int)response.StatusCode})");
    }

    /// <summary>
    /// The performance service's own answer that the section does not exist (so nothing of it is allocated): a 404 with
    /// its problem code. Any other 404 (a proxy's, a route moved in a deploy) says nothing of the allocation and is
    /// tried again, or a compensation recorded as done would leave the seats allocated for good.
    /// </summary>
    private static async Task<bool> IsNoSuchSectionAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.StatusCode != HttpStatusCode.NotFound || response.Content.Headers.ContentType?.MediaType != "application/problem+json")
        {
            return false;
        }

        try
        {
            var problem = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>(cancellationToken).ConfigureAwait(false);
            return problem.ValueKind == System.Text.Json.JsonValueKind.Object
                && problem.TryGetProperty("code", out var code) && code.ValueKind == System.Text.Json.JsonValueKind.String
                && code.GetString() == ProblemCodes.NotFound;
        }
        catch (System.Text.Json.JsonException)
        {
            return false;
        }
    }
}
