using System.Diagnostics;
using Booking.Core.Outbox;
using Booking.Core.Reservations;
using Booking.PerformanceStub.Data;
using Booking.SagaWorker.Saga;

namespace Booking.Tests.Saga;

public sealed class SagaTests(SagaApp app) : IClassFixture<SagaApp>
{
    private PerformanceDbContext StubDb() => new(new DbContextOptionsBuilder<PerformanceDbContext>()
        .UseNpgsql(app.PerformanceDb).UseSnakeCaseNamingConvention().Options);

    private async Task<int> RemainingAsync(string performanceId, string section)
    {
        await using var db = StubDb();
        return (await db.Sections.AsNoTracking().SingleAsync(s => s.PerformanceId == Guid.Parse(performanceId) && s.Code == section)).Remaining;
    }

    [Fact]
    public async Task A_deallocation_is_done_on_the_performance_services_answer_and_a_routes_404_is_tried_again()
    {
        var ct = TestContext.Current.CancellationToken;
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        var client = app.WorkerServices.GetRequiredService<PerformanceAllocationClient>();

        // The service's answers: nothing allocated (no such section, or none for this reservation), given back.
        Assert.Equal(StepOutcome.Succeeded, (await client.DeallocateAsync(performance, "Z", Guid.NewGuid(), ct)).Outcome);
        Assert.Equal(StepOutcome.Succeeded, (await client.DeallocateAsync(performance, "A", Guid.NewGuid(), ct)).Outcome);
        // A 404 is a route's (a proxy's, one moved in a deploy) and says nothing of the allocation: tried again.
        using var proxy = new HttpClient(new NotFoundProxy()) { BaseAddress = new Uri("http://performance-stub") };
        Assert.Equal(StepOutcome.Retry, (await new PerformanceAllocationClient(proxy).DeallocateAsync(performance, "A", Guid.NewGuid(), ct)).Outcome);
    }

    /// <summary>What a proxy in front of the service answers for a route it does not know: a plain 404.</summary>
    private sealed class NotFoundProxy : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(HttpStatusCode.NotFound) { Content = new StringContent("404 page not found") });
    }

    [Fact]
    public async Task A_booking_goes_pending_to_confirmed_with_a_completed_event_and_the_section_remaining_drops()
    {
        var performance = await app.CreatePerformanceAsync(("A", 2, 5), ("B", 1, 5));
        using var client = app.Client();
        var reservation = await client.ReserveAsync((await client.HoldSeatsAsync(performance, "A-1-1", "A-1-2", "B-1-1")).HoldId);
        Assert.Equal(ReservationStatus.Pending, reservation.Status);

        var final = await app.WaitForFinalAsync(reservation.Id);

        Assert.Equal(ReservationStatus.Confirmed, final.Status);
        Assert.NotNull(final.ConfirmedAt);
        Assert.Equal(["ConfirmHold", "AllocateSection", "CompleteReservation"], final.Saga!.Steps.OrderBy(s => s.Id).Select(s => s.Name));
        Assert.All(final.Saga.Steps, s => Assert.Equal(SagaStepStatus.Succeeded, s.Status));
        Assert.Equal(1, await app.WaitForEventAsync(BookingTopics.Completed, reservation.Id));
        Assert.Equal(8, await RemainingAsync(performance, "A"));
        Assert.Equal(4, await RemainingAsync(performance, "B"));
        Assert.StartsWith("B:", (string?)await app.Redis.HashGetAsync($"perf:{{{performance}}}:seats", "A-1-1"));

        // The API shows the real step log.
        var read = await (await client.GetAsync($"/api/reservations/{reservation.Id}")).ReadAsync<ReservationDto>(HttpStatusCode.OK);
        Assert.Equal(SagaState.Completed, read.Saga!.State);
        Assert.Equal(3, read.Saga.Steps.Count);
        await app.WaitForOutboxSentAsync([reservation.Id]);
    }

    [Fact]
    public async Task The_completed_event_reaches_an_independent_kcat_consumer()
    {
        var performance = await app.CreatePerformanceAsync(("K", 1, 4));
        using var client = app.Client();
        var reservation = await client.ReserveAsync((await client.HoldSeatsAsync(performance, "K-1-1")).HoldId);
        await app.WaitForEventAsync(BookingTopics.Completed, reservation.Id);

        var kcat = Process.Start(new ProcessStartInfo("kcat", ["-b", app.Kafka.BootstrapServers, "-C", "-t", BookingTopics.Completed, "-o", "beginning", "-e", "-q", "-f", "%k %h\\n"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var output = await kcat.StandardOutput.ReadToEndAsync();
        await kcat.WaitForExitAsync();

        var line = Assert.Single(output.Split('\n'), l => l.StartsWith(reservation.Id.ToString(), StringComparison.Ordinal));
        Assert.Contains("traceparent=00-", line, StringComparison.Ordinal);
        Assert.Contains("event-id=", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Exhibition_and_restaurant_bookings_confirm_without_a_section_step()
    {
        var resource = $"museum-{Guid.NewGuid():N}"[..20];
        using var client = app.Client();
        await client.SetCapacityAsync("EXHIBITION", resource, "2026-12-05", 10);
        var reservation = await client.ReserveAsync((await client.HoldCapacityAsync("EXHIBITION", resource, "2026-12-05", 3)).HoldId);

        var final = await app.WaitForFinalAsync(reservation.Id);

        Assert.Equal(ReservationStatus.Confirmed, final.Status);
        Assert.Equal(["ConfirmHold", "CompleteReservation"], final.Saga!.Steps.OrderBy(s => s.Id).Select(s => s.Name));
        var capacity = await (await client.GetAsync($"/api/capacity/EXHIBITION/{resource}/2026-12-05")).ReadAsync<Booking.Api.Capacity.CapacityDto>(HttpStatusCode.OK);
        Assert.Equal((0, 3), (capacity.Held, capacity.Booked));
        await app.WaitForEventAsync(BookingTopics.Completed, reservation.Id);
    }

    [Fact]
    public async Task Cancelling_a_confirmed_booking_gives_seats_and_remaining_back_and_ends_cancelled_with_its_event()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        using var client = app.Client();
        var hold = await client.HoldSeatsAsync(performance, "A-1-4", "A-1-5");
        var reservation = await client.ReserveAsync(hold.HoldId);
        Assert.Equal(ReservationStatus.Confirmed, (await app.WaitForFinalAsync(reservation.Id)).Status);
        Assert.Equal(3, await RemainingAsync(performance, "A"));

        (await client.PostAsync($"/api/reservations/{reservation.Id}/cancel", null)).EnsureSuccessStatusCode();
        var final = await app.WaitForFinalAsync(reservation.Id);

        Assert.Equal(ReservationStatus.Cancelled, final.Status);
        Assert.Equal(SagaState.Cancelled, final.Saga!.State);
        Assert.Contains(final.Saga.Steps, s => s.Name == "DeallocateSection" && s.Status == SagaStepStatus.Succeeded);
        Assert.Contains(final.Saga.Steps, s => s.Name == "ReleaseUnits" && s.Status == SagaStepStatus.Succeeded);
        Assert.Equal(5, await RemainingAsync(performance, "A"));
        Assert.Equal("A", (string?)await app.Redis.HashGetAsync($"perf:{{{performance}}}:seats", "A-1-4"));
        await app.WaitForEventAsync(BookingTopics.Cancelled, reservation.Id);
        // The hold became that reservation: its seats are free again, but it is used up, not merely released.
        await (await client.PostJsonAsync("/api/reservations", new { holdId = hold.HoldId })).AssertProblemAsync(HttpStatusCode.Conflict, ProblemCodes.HoldAlreadyUsed);
    }
}

/// <summary>A saga app whose performance service fails every allocation (chaos), in a class of its own, with sagas that run out of time in 4 s.</summary>
public sealed class ChaosSagaTests(ShortDeadlineSagaApp app) : IClassFixture<ShortDeadlineSagaApp>
{
    [Fact]
    public async Task When_allocations_fail_the_saga_compensates_and_the_booking_fails_with_its_event()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        using var stub = app.StubClient();
        (await stub.PostAsJsonAsync("/_chaos", new { failureRate = 1.0, latencyMs = 0 })).EnsureSuccessStatusCode();
        using var client = app.Client();
        Reservation final;
        var hold = await client.HoldSeatsAsync(performance, "A-1-1", "A-1-2");
        try
        {
            var reservation = await client.ReserveAsync(hold.HoldId);
            // Past its deadline the saga compensates; its deallocation fails too while the chaos lasts, and is retried.
            await app.WaitForStoredAsync(db => db.Sagas.AnyAsync(s => s.ReservationId == reservation.Id && s.State == SagaState.Compensating),
                reached => reached, TimeSpan.FromSeconds(30), _ => $"Saga {reservation.Id} never reached {SagaState.Compensating}.");
            await Task.Delay(TimeSpan.FromSeconds(1));
            (await stub.PostAsJsonAsync("/_chaos", new { failureRate = 0.0, latencyMs = 0 })).EnsureSuccessStatusCode();
            final = await app.WaitForFinalAsync(reservation.Id);
        }
        finally
        {
            (await stub.PostAsJsonAsync("/_chaos", new { failureRate = 0.0, latencyMs = 0 })).EnsureSuccessStatusCode();
        }

        Assert.Equal(ReservationStatus.Failed, final.Status);
        Assert.Equal(SagaState.Failed, final.Saga!.State);
        Assert.Equal("DEADLINE_PASSED", final.FailureCode);
        Assert.Contains("deadline", final.FailureReason, StringComparison.OrdinalIgnoreCase);
        var steps = final.Saga.Steps.OrderBy(s => s.Id).Select(s => s.Name).ToList();
        Assert.True(steps.LastIndexOf("DeallocateSection") < steps.LastIndexOf("ReleaseUnits"), string.Join(",", steps));
        Assert.Equal("A", (string?)await app.Redis.HashGetAsync($"perf:{{{performance}}}:seats", "A-1-1"));
        Assert.Equal("A", (string?)await app.Redis.HashGetAsync($"perf:{{{performance}}}:seats", "A-1-2"));
        await app.WaitForEventAsync(BookingTopics.Failed, final.Id);
        var performanceNow = await stub.GetFromJsonAsync<System.Text.Json.JsonElement>($"/performances/{performance}");
        Assert.Equal(5, performanceNow.GetProperty("sections")[0].GetProperty("remaining").GetInt32());
        // Given back before it was ever confirmed, the hold still became a reservation: a second use is refused so.
        await (await client.PostJsonAsync("/api/reservations", new { holdId = hold.HoldId })).AssertProblemAsync(HttpStatusCode.Conflict, ProblemCodes.HoldAlreadyUsed);
    }

    [Fact]
    public async Task A_compensation_retried_for_seconds_is_one_row_of_the_step_log_and_the_cancel_completes()
    {
        var performance = await app.CreatePerformanceAsync(("C", 1, 5));
        using var stub = app.StubClient();
        using var client = app.Client();
        var reservation = await client.ReserveAsync((await client.HoldSeatsAsync(performance, "C-1-1")).HoldId);
        Assert.Equal(ReservationStatus.Confirmed, (await app.WaitForFinalAsync(reservation.Id)).Status);

        (await stub.PostAsJsonAsync("/_chaos", new { failureRate = 1.0, latencyMs = 0 })).EnsureSuccessStatusCode();
        try
        {
            (await client.PostAsync($"/api/reservations/{reservation.Id}/cancel", null)).EnsureSuccessStatusCode();
            // Deallocation fails until it has been tried four times (with 200-500 ms backoff, about a second or two).
            await app.WaitForStoredAsync(
                db => db.SagaSteps.Where(s => s.ReservationId == reservation.Id && s.Name == "DeallocateSection").MaxAsync(s => (int?)s.Attempt),
                tried => tried >= 4, TimeSpan.FromSeconds(60), tried => $"DeallocateSection was tried {tried ?? 0} times in 60 s, not 4.");
        }
        finally
        {
            (await stub.PostAsJsonAsync("/_chaos", new { failureRate = 0.0, latencyMs = 0 })).EnsureSuccessStatusCode();
        }

        var final = await app.WaitForFinalAsync(reservation.Id);
        Assert.Equal(ReservationStatus.Cancelled, final.Status);
        var deallocations = final.Saga!.Steps.Where(s => s.Name == "DeallocateSection").ToList();
        var deallocation = Assert.Single(deallocations);
        Assert.Equal(SagaStepStatus.Succeeded, deallocation.Status);
        Assert.True(deallocation.Attempt > 3, $"Only {deallocation.Attempt} attempts were made: " + string.Join("; ", final.Saga.Steps.Select(s => $"{s.Name} {s.Status} a{s.Attempt} {s.StartedAt:HH:mm:ss.fff}-{s.FinishedAt:HH:mm:ss.fff} {s.Error}")) + $" attempts {final.Saga.Attempts}");
        Assert.True(final.Saga.Steps.Count <= 5, string.Join(", ", final.Saga.Steps.Select(s => $"{s.Name} {s.Status}")));
    }
}
