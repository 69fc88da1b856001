using Booking.Api.Capacity;
using Booking.Api.Holds;
using Booking.Api.Seats;
using Booking.Core.Reservations;

namespace Booking.Tests.Infrastructure;

/// <summary>Short ways through the public API to the state a test starts from.</summary>
public static class Scenario
{
    public static async Task<SeatHoldDto> HoldSeatsAsync(this HttpClient client, string performanceId, params string[] seatIds) =>
        await (await client.PostJsonAsync($"/api/performances/{performanceId}/holds", new { seatIds }))
            .ReadAsync<SeatHoldDto>(HttpStatusCode.Created);

    public static async Task<CapacityHoldDto> HoldCapacityAsync(this HttpClient client, string domain, string resourceId, string slot, int quantity) =>
        await (await client.PostJsonAsync($"/api/capacity/{domain}/{resourceId}/{slot}/holds", new { quantity }))
            .ReadAsync<CapacityHoldDto>(HttpStatusCode.Created);

    /// <summary>Sets a slot's capacity as an admin (the client's own caller need not be one).</summary>
    public static async Task SetCapacityAsync(this HttpClient client, string domain, string resourceId, string slot, int capacity)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, $"/api/capacity/{domain}/{resourceId}/{slot}")
        {
            Content = System.Net.Http.Json.JsonContent.Create(new { capacity }),
        };
        request.Headers.Authorization = TestTokens.Admin;
        (await client.SendAsync(request)).EnsureSuccessStatusCode();
    }

    public static async Task<ReservationDto> ReserveAsync(this HttpClient client, Guid holdId, object? details = null) =>
        await (await client.PostJsonAsync("/api/reservations", new { holdId, details }))
            .ReadAsync<ReservationDto>(HttpStatusCode.Accepted);
}
