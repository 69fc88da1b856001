using System.Net;
using System.Text.Json;
using Booking.Core.Seats;

namespace Booking.Api.Seats;

/// <summary>The performance service (<c>http://performance-stub</c> through service discovery), as the booking service uses it.</summary>
public sealed class PerformanceClient(HttpClient http)
{
    public const string ServiceName = "performance-stub";

    /// <summary>Every seat id of a performance; null when the performance does not exist.</summary>
    public async Task<IReadOnlyList<string>?> GetSeatMapAsync(string performanceId, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync($"/performances/{Uri.EscapeDataString(performanceId)}/seatmap", cancellationToken)
            .ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        response.EnsureSuccessStatusCode();
        SeatMapResponse? map;
        try
        {
            map = await response.Content.ReadFromJsonAsync<SeatMapResponse>(cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException exception)
        {
            // The other service's fault, not the caller's: a 503 like any other failure of it, never a 400.
            throw new HttpRequestException("The performance service answered a seat map that is not valid JSON.", exception);
        }

        return map?.SeatIds is { Count: > 0 } seatIds && seatIds.All(SeatIds.IsWellFormed)
            ? seatIds
            : throw new HttpRequestException("The performance service answered an empty seat map, or one with seat ids that are not.");
    }

    private sealed record SeatMapResponse(IReadOnlyList<string> SeatIds);
}
