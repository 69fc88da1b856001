using System.Net;
using Booking.Api.Capacity;
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

    public static async Task SetCapacityAsync(this HttpClient client, string domain, string resourceId, string slot, int capacity) =>
        (await client.PutAsync($"/api/capacity/{domain}/{resourceId}/{slot}", System.Net.Http.Json.JsonContent.Create(new { capacity })))
            .EnsureSuccessStatusCode();

    public static async Task<ReservationDto> ReserveAsync(this HttpClient client, Guid holdId, object? details = null) =>
        await (await client.PostJsonAsync("/api/reservations", new { holdId, details }))
            .ReadAsync<ReservationDto>(HttpStatusCode.Accepted);
}
