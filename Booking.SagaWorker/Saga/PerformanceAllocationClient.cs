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
        // 204 also when the section does not exist (nothing of it is allocated). A 404 is never the service's answer
        // here but a route's (a proxy's, one moved in a deploy): it says nothing of the allocation, so it is tried
        // again, or the compensation would be recorded done with the seats still allocated.
        return response.IsSuccessStatusCode
            ? StepResult.Done
            : StepResult.Retry($"Deallocation of section {section} failed ({(int)response.StatusCode})");
    }
}
