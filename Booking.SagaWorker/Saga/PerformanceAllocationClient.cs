using System.Net;
using System.Net.Http.Json;

namespace Booking.SagaWorker.Saga;

/// <summary>Allocation calls to the performance service (<c>http://performance-stub</c>).</summary>
public sealed class PerformanceAllocationClient(HttpClient http)
{
    public async Task<StepResult> AllocateAsync(string performanceId, string section, Guid reservationId, int seats, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsJsonAsync(
            $"/performances/{performanceId}/sections/{section}/allocations",
            new { reservationId, seats },
            cancellationToken).ConfigureAwait(false);
        if (response.IsSuccessStatusCode)
        {
            return StepResult.Done;
        }

        var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        return response.StatusCode is HttpStatusCode.Conflict or HttpStatusCode.NotFound or HttpStatusCode.BadRequest
            ? StepResult.Fail($"Allocation of section {section} refused ({(int)response.StatusCode}): {Code(body)}")
            : StepResult.Retry($"Allocation of section {section} failed ({(int)response.StatusCode})");
    }

    public async Task<StepResult> DeallocateAsync(string performanceId, string section, Guid reservationId, CancellationToken cancellationToken)
    {
        using var response = await http.DeleteAsync($"/performances/{performanceId}/sections/{section}/allocations/{reservationId}", cancellationToken)
            .ConfigureAwait(false);
        return response.IsSuccessStatusCode || response.StatusCode == HttpStatusCode.NotFound
            ? StepResult.Done
            : StepResult.Retry($"Deallocation of section {section} failed ({(int)response.StatusCode})");
    }

    private static string Code(string problem)
    {
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(problem);
            return document.RootElement.TryGetProperty("code", out var code) ? code.GetString() ?? problem : problem;
        }
        catch (System.Text.Json.JsonException)
        {
            return problem;
        }
    }
}
