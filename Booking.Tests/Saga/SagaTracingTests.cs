using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Hosting;

namespace Booking.Tests.Saga;

public sealed class SagaTracingTests(SagaApp app) : IClassFixture<SagaApp>
{
    [Fact]
    public async Task One_booking_is_one_trace_from_the_request_through_every_saga_step_and_lua_call()
    {
        using var recorder = new SpanRecorder(BookingTelemetry.SagaSourceName, BookingTelemetry.LuaSourceName);
        var spans = recorder.Spans;

        var performance = await app.CreatePerformanceAsync(("T", 1, 4));
        var traceId = ActivityTraceId.CreateRandom();
        using var client = app.Client();
        // The caller's own trace: both the hold and the reservation request join it.
        client.DefaultRequestHeaders.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01");
        var reservation = await client.ReserveAsync((await client.HoldSeatsAsync(performance, "T-1-1")).HoldId);
        Assert.Equal(ReservationStatus.Confirmed, (await app.WaitForFinalAsync(reservation.Id)).Status);

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!spans.Any(s => s.TraceId == traceId && s.OperationName == "saga") && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        var trace = spans.Where(s => s.TraceId == traceId).ToList();
        var names = trace.Select(s => s.OperationName).ToList();
        Assert.Contains("hold_seats", names);
        Assert.Contains("saga", names);
        Assert.Contains("ConfirmHold", names);
        Assert.Contains("confirm_seats", names);
        Assert.Contains("AllocateSection", names);
        Assert.Contains("CompleteReservation", names);

        // The first hold on a fresh performance finds no seat state, loads the seat map, and holds again.
        Assert.Equal(["NOT_LOADED", "OK"], trace.Where(s => s.OperationName == "hold_seats").Select(s => s.GetTagItem("booking.lua.result")));
        var hold = trace.Last(s => s.OperationName == "hold_seats");
        Assert.Equal("redis", hold.GetTagItem("db.system"));
        Assert.Equal(1, hold.GetTagItem("booking.units"));
        Assert.Equal("OK", hold.GetTagItem("booking.lua.result"));
        var confirm = trace.First(s => s.OperationName == "ConfirmHold");
        Assert.Equal(reservation.Id.ToString("D"), confirm.GetTagItem("reservation.id"));
        Assert.Equal("SUCCEEDED", confirm.GetTagItem("saga.outcome"));
        Assert.Equal(confirm.SpanId, trace.First(s => s.OperationName == "confirm_seats").ParentSpanId);
    }

    [Fact]
    public async Task Each_allocation_batch_is_in_the_trace_of_the_booking_it_serves_not_of_the_first_one()
    {
        using var recorder = new SpanRecorder("Booking.PerformanceStub");
        var batches = recorder.Named("allocate_batch");

        var performance = await app.CreatePerformanceAsync(("T", 1, 4));
        var traces = new List<ActivityTraceId>();
        foreach (var seat in new[] { "T-1-1", "T-1-2" })
        {
            // One after the other: each is alone in its batch of the section's allocation loop.
            var traceId = ActivityTraceId.CreateRandom();
            traces.Add(traceId);
            using var client = app.Client();
            client.DefaultRequestHeaders.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01");
            var reservation = await client.ReserveAsync((await client.HoldSeatsAsync(performance, seat)).HoldId);
            Assert.Equal(ReservationStatus.Confirmed, (await app.WaitForFinalAsync(reservation.Id)).Status);
        }

        foreach (var traceId in traces)
        {
            var batch = Assert.Single(batches, b => b.TraceId == traceId);
            Assert.Equal("T", batch.GetTagItem("performance.section"));
            Assert.Equal(1, batch.GetTagItem("allocation.batch_size"));
        }
    }
}
