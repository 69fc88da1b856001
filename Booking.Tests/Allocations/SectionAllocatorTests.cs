using System.Diagnostics;
using Booking.PerformanceStub.Allocations;
using Npgsql;
using Microsoft.Extensions.Hosting;

namespace Booking.Tests.Allocations;

public sealed class SectionAllocatorTests(BookingApp app) : IClassFixture<BookingApp>
{
    [Fact]
    public async Task Allocation_loops_for_made_up_section_codes_end_when_idle_and_a_real_section_still_allocates_after()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 10));
        using var service = app.StubClient(TestTokens.Bearer("booking-api", BookingAuthentication.ServiceRole));
        var allocator = app.StubService<SectionAllocator>();

        // Loops are counted while the requests run: an idle one retires after a second (BookingApp), so a count taken
        // after the last answer could find none left on a stalled machine.
        var burst = Task.WhenAll(Enumerable.Range(0, 300).Select(i =>
            service.PostAsJsonAsync($"/performances/{performance}/sections/made-up-{i}/allocations", new { reservationId = Guid.NewGuid(), seats = 1 })));
        var most = 0;
        while (!burst.IsCompleted)
        {
            most = Math.Max(most, allocator.ActiveSections);
            await Task.Delay(1);
        }

        Assert.All(await burst, r => Assert.Equal(HttpStatusCode.NotFound, r.StatusCode));
        Assert.InRange(Math.Max(most, allocator.ActiveSections), 1, 300);
        var deallocations = await Task.WhenAll(Enumerable.Range(0, 300).Select(i =>
            service.DeleteAsync($"/performances/{performance}/sections/made-up-{i}/allocations/{Guid.NewGuid()}")));
        // Nothing of them is allocated, nor ever can be: each compensation is done at once.
        Assert.All(deallocations, r => Assert.Equal(HttpStatusCode.NoContent, r.StatusCode));
        // Nothing of the made-up sections stays in the lock's memory once nobody holds or waits for their locks.
        Assert.Equal(0, app.StubService<SectionLock>().ActiveSections);

        await WaitForNoLoopsAsync(allocator);

        // A section whose loop retired gets a new one on its next request.
        var allocated = await service.PostAsJsonAsync($"/performances/{performance}/sections/A/allocations", new { reservationId = Guid.NewGuid(), seats = 2 });
        Assert.Equal(HttpStatusCode.OK, allocated.StatusCode);
        await WaitForNoLoopsAsync(allocator);
        var again = await service.PostAsJsonAsync($"/performances/{performance}/sections/A/allocations", new { reservationId = Guid.NewGuid(), seats = 2 });
        Assert.Equal(6, (await again.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("remaining").GetInt32());
    }

    private static async Task WaitForNoLoopsAsync(SectionAllocator allocator)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (allocator.ActiveSections > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{allocator.ActiveSections} section loops still alive.");
            await Task.Delay(100);
        }
    }
}

/// <summary>
/// Changes of a section racing another holder's that its lock did not keep out (a lock lost to a Redis restart, a
/// second instance): a deallocation, and a batch decided against the database.
/// </summary>
public sealed class DeallocationRaceTests(BookingApp app) : IClassFixture<BookingApp>
{
    [Fact]
    public async Task A_checked_batch_whose_new_reservation_another_holder_allocated_meanwhile_is_answered_try_again_not_500()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 10));
        using var service = app.StubClient(TestTokens.Bearer("booking-api", BookingAuthentication.ServiceRole));
        var (known, raced, first) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        (await service.PostAsJsonAsync($"/performances/{performance}/sections/A/allocations", new { reservationId = known, seats = 1 })).EnsureSuccessStatusCode();

        // The other holder: its allocation of `raced`, not yet committed; and a second session that keeps the
        // section's row from being updated, so the batch's requests wait in the section's queue and the last two go as one.
        await using var other = new NpgsqlConnection(app.PerformanceDb);
        await other.OpenAsync();
        await using var otherTransaction = await other.BeginTransactionAsync();
        await using (var insert = new NpgsqlCommand(
            "INSERT INTO allocations (performance_id, section_code, reservation_id, seats, state, created_at, updated_at) VALUES ($1, 'A', $2, 1, 'ALLOCATED', now(), now())",
            other, otherTransaction) { Parameters = { new() { Value = Guid.Parse(performance) }, new() { Value = raced } } })
        {
            await insert.ExecuteNonQueryAsync();
        }

        await using var gate = new NpgsqlConnection(app.PerformanceDb);
        await gate.OpenAsync();
        await using var gateTransaction = await gate.BeginTransactionAsync();
        await using (var lockRow = new NpgsqlCommand("SELECT 1 FROM sections WHERE performance_id = $1 AND code = 'A' FOR NO KEY UPDATE", gate, gateTransaction)
            { Parameters = { new() { Value = Guid.Parse(performance) } } })
        {
            await lockRow.ExecuteNonQueryAsync();
        }

        object[] allocations =
        [
            new { performanceId = performance, section = "A", reservationId = first, seats = 1 },
            new { performanceId = performance, section = "A", reservationId = known, seats = 1 },
            new { performanceId = performance, section = "A", reservationId = raced, seats = 1 },
        ];
        var batch = service.PostAsJsonAsync("/allocations/batch", new { allocations });
        // The section's loop waits on the row with the first of them (alone, or with the others); the rest queue behind it.
        await WaitForALockWaitAsync(gate.ProcessID);
        await gateTransaction.CommitAsync();

        // The batch repeats `known`, so it is checked: it reads the section's allocations (not the other's uncommitted
        // one), and its insert of `raced` then waits on the other holder's, which commits.
        await WaitForALockWaitAsync(other.ProcessID);
        await otherTransaction.CommitAsync();

        using var response = await batch;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var results = (await response.Content.ReadFromJsonAsync<BatchAllocationResponse>())!.Results;
        // `first` went alone (allocated) or with the others (the batch fails as one); `known` and `raced` went together.
        Assert.Contains(results[0].Status, new[] { "ALLOCATED", ProblemCodes.DependencyUnavailable });
        Assert.Equal([ProblemCodes.DependencyUnavailable, ProblemCodes.DependencyUnavailable], results.Skip(1).Select(r => r.Status));
    }

    [Fact]
    public async Task A_deallocation_that_meets_another_release_of_the_same_allocation_gives_the_seats_back_once()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 10));
        using var service = app.StubClient(TestTokens.Bearer("booking-api", BookingAuthentication.ServiceRole));
        var reservation = Guid.NewGuid();
        (await service.PostAsJsonAsync($"/performances/{performance}/sections/A/allocations", new { reservationId = reservation, seats = 2 })).EnsureSuccessStatusCode();

        // The other holder's release, done and not yet committed.
        await using var other = new NpgsqlConnection(app.PerformanceDb);
        await other.OpenAsync();
        await using var transaction = await other.BeginTransactionAsync();
        foreach (var statement in new[]
        {
            "UPDATE allocations SET state = 'RELEASED' WHERE performance_id = $1 AND section_code = 'A' AND reservation_id = $2 AND state = 'ALLOCATED'",
            "UPDATE sections SET remaining = remaining + 2 WHERE performance_id = $1 AND code = 'A' AND $2 IS NOT NULL",
        })
        {
            await using var release = new NpgsqlCommand(statement, other, transaction) { Parameters = { new() { Value = Guid.Parse(performance) }, new() { Value = reservation } } };
            await release.ExecuteNonQueryAsync();
        }

        var deallocation = service.DeleteAsync($"/performances/{performance}/sections/A/allocations/{reservation}");
        await WaitForALockWaitAsync(other.ProcessID);
        await transaction.CommitAsync();

        Assert.Equal(HttpStatusCode.NoContent, (await deallocation).StatusCode);
        var section = await (await service.GetAsync($"/performances/{performance}")).Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        Assert.Equal(10, section.GetProperty("sections")[0].GetProperty("remaining").GetInt32());
    }

    /// <summary>Until a session of the performance database waits for a lock the session <paramref name="holder"/> holds.</summary>
    private async Task WaitForALockWaitAsync(int holder)
    {
        await using var watch = new NpgsqlConnection(app.PerformanceDb);
        await watch.OpenAsync();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            await using var waiting = new NpgsqlCommand("SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", watch) { Parameters = { new() { Value = holder } } };
            if ((long)(await waiting.ExecuteScalarAsync())! > 0)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"Nothing waited for a lock of session {holder}.");
            await Task.Delay(20);
        }
    }
}

/// <summary><c>POST /allocations/batch</c>, in an app of its own: its section loops would count in the test above.</summary>
public sealed class AllocationBatchTests(BookingApp app) : IClassFixture<BookingApp>
{
    [Fact]
    public async Task A_batch_of_allocations_answers_each_on_its_own_in_order_and_is_idempotent_by_reservation()
    {
        var performance = Guid.Parse(await app.CreatePerformanceAsync(("A", 1, 5), ("B", 1, 2)));
        using var service = app.StubClient(TestTokens.Bearer("booking-api", BookingAuthentication.ServiceRole));
        var (first, second, third) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        object[] allocations =
        [
            new { performanceId = performance, section = "A", reservationId = first, seats = 3 },
            new { performanceId = performance, section = "B", reservationId = first, seats = 2 },
            new { performanceId = performance, section = "B", reservationId = second, seats = 1 },
            new { performanceId = performance, section = "Z", reservationId = third, seats = 1 },
            new { performanceId = Guid.NewGuid(), section = "A", reservationId = third, seats = 1 },
        ];

        var response = await service.PostAsJsonAsync("/allocations/batch", new { allocations });
        var results = (await response.Content.ReadFromJsonAsync<BatchAllocationResponse>())!.Results;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["ALLOCATED", "ALLOCATED", "SECTION_SOLD_OUT", "NOT_FOUND", "NOT_FOUND"], results.Select(r => r.Status));
        Assert.Equal([first, first, second, third, third], results.Select(r => r.ReservationId));
        Assert.Equal((2, 0), (results[0].Remaining, results[1].Remaining));

        // Sent again (a saga retried): the same allocations, nothing taken twice.
        var again = (await (await service.PostAsJsonAsync("/allocations/batch", new { allocations = allocations[..2] })).Content.ReadFromJsonAsync<BatchAllocationResponse>())!.Results;
        Assert.Equal([("ALLOCATED", 3, 2), ("ALLOCATED", 2, 0)], again.Select(r => (r.Status, r.Seats, r.Remaining)));
    }

    [Fact]
    public async Task New_allocations_that_fit_are_taken_in_one_statement_and_the_rest_are_checked_against_the_database()
    {
        using var recorder = new SpanRecorder("Booking.PerformanceStub");
        var performance = Guid.Parse(await app.CreatePerformanceAsync(("A", 1, 5), ("B", 1, 2)));
        using var service = app.StubClient(TestTokens.Bearer("booking-api", BookingAuthentication.ServiceRole));
        var (first, second, traceId) = (Guid.NewGuid(), Guid.NewGuid(), ActivityTraceId.CreateRandom());
        var traceParent = $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01";
        object[] fresh =
        [
            new { performanceId = performance, section = "A", reservationId = first, seats = 3, traceParent },
            new { performanceId = performance, section = "B", reservationId = second, seats = 3, traceParent },
            new { performanceId = performance, section = "Z", reservationId = second, seats = 1, traceParent },
        ];

        var results = await PostAsync(service, fresh);
        Assert.Equal([("ALLOCATED", 2), ("SECTION_SOLD_OUT", 2), ("NOT_FOUND", 0)], results.Select(r => (r.Status, r.Remaining)));
        Assert.Equal(new Dictionary<string, bool> { ["A"] = false, ["B"] = true, ["Z"] = true }, await CheckedBySectionAsync(recorder, traceId, 3));

        // A reservation the section already has makes the one statement fail and change nothing; the checked path
        // answers it again. A new one that fits is still taken at once.
        traceId = ActivityTraceId.CreateRandom();
        traceParent = $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01";
        object[] retried =
        [
            new { performanceId = performance, section = "A", reservationId = first, seats = 3, traceParent },
            new { performanceId = performance, section = "B", reservationId = second, seats = 2, traceParent },
        ];
        results = await PostAsync(service, retried);
        Assert.Equal([("ALLOCATED", 3, 2), ("ALLOCATED", 2, 0)], results.Select(r => (r.Status, r.Seats, r.Remaining)));
        Assert.Equal(new Dictionary<string, bool> { ["A"] = true, ["B"] = false }, await CheckedBySectionAsync(recorder, traceId, 2));
    }

    private static async Task<IReadOnlyList<BatchAllocationResult>> PostAsync(HttpClient service, object[] allocations)
    {
        using var response = await service.PostAsJsonAsync("/allocations/batch", new { allocations });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<BatchAllocationResponse>())!.Results;
    }

    /// <summary>
    /// Whether each section's batch in the trace was checked against the database, once all <paramref name="sections"/>
    /// ended (a batch's span ends just after its callers are answered).
    /// </summary>
    private static async Task<Dictionary<string, bool>> CheckedBySectionAsync(SpanRecorder recorder, ActivityTraceId traceId, int sections)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (recorder.Named("allocate_batch").Count(b => b.TraceId == traceId) < sections && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        return recorder.Named("allocate_batch").Where(b => b.TraceId == traceId)
            .ToDictionary(b => (string)b.GetTagItem("performance.section")!, b => (bool)b.GetTagItem("allocation.checked")!);
    }

    [Fact]
    public async Task A_batch_that_is_empty_too_large_or_malformed_is_a_validation_problem()
    {
        using var service = app.StubClient(TestTokens.Bearer("booking-api", BookingAuthentication.ServiceRole));
        var one = new { performanceId = Guid.NewGuid(), section = "A", reservationId = Guid.NewGuid(), seats = 1 };
        object[] bad =
        [
            new { allocations = Array.Empty<object>() },
            new { allocations = Enumerable.Repeat<object>(one, AllocationsApi.MaxBatch + 1).ToArray() },
            new { allocations = new object[] { one with { seats = 0 } } },
            new { allocations = new object[] { new { performanceId = Guid.NewGuid(), section = new string('A', 33), reservationId = Guid.NewGuid(), seats = 1 } } },
            new { allocations = new object?[] { null } },
        ];
        foreach (var body in bad)
        {
            await (await service.PostAsJsonAsync("/allocations/batch", body)).AssertProblemAsync(HttpStatusCode.BadRequest, "VALIDATION_FAILED");
        }
    }
}
