using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Booking.Api.Seats;
using Booking.Core;
using Booking.Core.Data;
using Booking.Core.Reservations;
using Booking.Tests.Infrastructure;

namespace Booking.Tests.Distributed;

[Collection(DistributedCollection.Name)]
public sealed class SystemTests(DistributedSystem system, ITestOutputHelper output)
{
    [Fact]
    public async Task Every_resource_is_healthy_in_the_dashboard_api()
    {
        output.WriteLine($"whole system healthy in {system.StartedIn.TotalSeconds:0.0} s");
        using var dashboard = system.Dashboard();

        var resources = await dashboard.GetFromJsonAsync<JsonElement[]>("/api/resources");

        var byName = resources!.ToDictionary(r => r.GetProperty("name").GetString()!);
        foreach (var name in new[] { "redis", "postgres", "kafka", "booking-api", "saga-worker", "performance-stub" })
        {
            Assert.True(byName.ContainsKey(name), name);
            Assert.Equal("Running", byName[name].GetProperty("state").GetString());
            Assert.Equal("Healthy", byName[name].GetProperty("health").GetString());
        }

        Assert.StartsWith("http://127.0.0.1:", byName["booking-api"].GetProperty("endpoints")[0].GetString(), StringComparison.Ordinal);
        Assert.NotEmpty(byName["kafka"].GetProperty("connectionString").GetString()!);
    }

    [Fact]
    public async Task A_booking_through_every_service_is_confirmed_and_its_trace_holds_the_lua_and_saga_spans()
    {
        var (reservationId, traceId) = await BookAsync(system, "Distributed");
        using var dashboard = system.Dashboard();

        var spans = await WaitForTraceAsync(dashboard, traceId, ["hold_seats", "ConfirmHold", "confirm_seats", "AllocateSection", "CompleteReservation"]);

        var names = spans.Select(s => s.GetProperty("name").GetString()).ToList();
        var resources = spans.Select(s => s.GetProperty("resource").GetString()).Distinct().ToList();
        output.WriteLine($"trace {traceId}: {spans.Count} spans from {string.Join(", ", resources)}");
        Assert.Contains("booking-api", resources);
        Assert.Contains("saga-worker", resources);
        Assert.Contains("performance-stub", resources);
        Assert.Contains("saga", names);
        var step = spans.First(s => s.GetProperty("name").GetString() == "ConfirmHold");
        Assert.Equal(reservationId.ToString("D"), step.GetProperty("attributes").GetProperty("reservation.id").GetString());
        Assert.Equal("SUCCEEDED", step.GetProperty("attributes").GetProperty("saga.outcome").GetString());
        var lua = spans.First(s => s.GetProperty("name").GetString() == "hold_seats" && s.GetProperty("attributes").GetProperty("booking.lua.result").GetString() == "OK");
        Assert.Equal("redis", lua.GetProperty("attributes").GetProperty("db.system").GetString());
    }

    /// <summary>Holds two seats and books them with one client-side trace; returns the reservation and the trace id.</summary>
    internal static async Task<(Guid ReservationId, string TraceId)> BookAsync(DistributedSystem system, string title)
    {
        var performance = await system.CreatePerformanceAsync(title);
        var traceId = ActivityTraceId.CreateRandom().ToHexString();
        using var api = system.Client("booking-api", "distributed-user");
        api.DefaultRequestHeaders.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom().ToHexString()}-01");

        var hold = await (await api.PostAsJsonAsync($"/api/performances/{performance}/holds", new { seatIds = new[] { "A-1-1", "B-2-2" } }, BookingJson.Options))
            .ReadAsync<SeatHoldDto>(HttpStatusCode.Created);
        var reservation = await (await api.PostAsJsonAsync("/api/reservations", new { holdId = hold.HoldId }, BookingJson.Options))
            .ReadAsync<ReservationDto>(HttpStatusCode.Accepted);

        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var current = await (await api.GetAsync($"/api/reservations/{reservation.Id}")).ReadAsync<ReservationDto>(HttpStatusCode.OK);
            if (current.Status == ReservationStatus.Confirmed)
            {
                Assert.Equal(["ConfirmHold", "AllocateSection", "CompleteReservation"], current.Saga!.Steps.Select(s => s.Name));
                return (reservation.Id, traceId);
            }

            Assert.True(DateTime.UtcNow < deadline, $"Still {current.Status}");
            await Task.Delay(200);
        }
    }

    internal static async Task<List<JsonElement>> WaitForTraceAsync(HttpClient dashboard, string traceId, string[] expected)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        var seen = new HashSet<string?>();
        while (true)
        {
            var response = await dashboard.GetAsync($"/api/traces/{traceId}");
            if (response.IsSuccessStatusCode)
            {
                var spans = (await response.Content.ReadFromJsonAsync<JsonElement[]>())!.ToList();
                seen = spans.Select(s => s.GetProperty("name").GetString()).ToHashSet();
                if (expected.All(seen.Contains))
                {
                    return spans;
                }
            }

            Assert.True(DateTime.UtcNow < deadline, $"Trace {traceId} never showed all of {string.Join(", ", expected)}; it has: {string.Join(", ", seen)}.");
            await Task.Delay(500);
        }
    }
}
