using System.Diagnostics;
using Booking.Api.Holds;
using Booking.Api.Seats;
using Booking.Core;
using Booking.Core.Reservations;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Booking.Tests.Distributed;

[Collection(DistributedRun.Name)]
public sealed class SystemTests(DistributedSystem system, ITestOutputHelper output)
{
    [Fact]
    public async Task Every_resource_is_running_and_healthy()
    {
        output.WriteLine($"whole system healthy in {system.StartedIn.TotalSeconds:0.0} s");
        foreach (var name in new[] { "redis", "postgres", "bookingdb", "performancedb", "kafka", "performance-stub", "booking-api", "saga-worker" })
        {
            // Waited for, not read once: a test before this one may have restarted a resource, or loaded the machine so
            // that one health check came late.
            await system.App.ResourceNotifications.WaitForResourceHealthyAsync(name, TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(60));
            Assert.True(system.App.ResourceNotifications.TryGetCurrentState(name, out var resource), name);
            Assert.Equal((name, KnownResourceStates.Running), (name, resource.Snapshot.State?.Text));
            Assert.Equal((name, HealthStatus.Healthy), (name, resource.Snapshot.HealthStatus));
        }
    }

    [Fact]
    public async Task A_booking_through_every_service_is_one_trace_in_the_dashboard_with_its_lua_and_saga_spans()
    {
        var (reservationId, traceId) = await BookAsync(system, "Distributed");
        using var dashboard = system.Dashboard();

        var spans = await DashboardTelemetry.WaitForTraceAsync(dashboard, traceId,
            ["hold_seats", "saga", "ConfirmHold", "confirm_seats", "AllocateSection", "allocate_batch", "CompleteReservation"],
            static spans => DashboardTelemetry.MissingParents(spans).Count == 1);

        var services = spans.Select(s => s.Service).Distinct().ToList();
        output.WriteLine($"trace {traceId}: {spans.Count} spans from {string.Join(", ", services)}");
        Assert.Contains("booking-api", services);
        Assert.Contains("saga-worker", services);
        Assert.Contains("performance-stub", services);
        var step = spans.First(s => s.Name == "ConfirmHold");
        Assert.Equal(reservationId.ToString("D"), step.Attributes["reservation.id"]);
        Assert.Equal("SUCCEEDED", step.Attributes["saga.outcome"]);
        var lua = spans.First(s => s.Name == "hold_seats" && s.Attributes["booking.lua.result"] == "OK");
        Assert.Equal("redis", lua.Attributes["db.system"]);
        Assert.Equal("OK", lua.Attributes["booking.lua.result"]);
        // One trace: every span's parent is in the trace, but for the client's own span (the traceparent sent).
        Assert.Single(DashboardTelemetry.MissingParents(spans));
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
}
