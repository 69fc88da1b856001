using System.Collections.Concurrent;
using System.Diagnostics;
using Booking.Core.Outbox;
using Booking.SagaWorker.Saga;
using Microsoft.Extensions.Hosting;

namespace Booking.Tests.Saga;

/// <summary>
/// Sagas run in batches: one read and one commit for many, each still with its own steps, span, outcome and event.
/// The reservations here are written straight to PostgreSQL without a requested event and due only in an hour, so
/// nothing but the batch under test runs them.
/// </summary>
public sealed class SagaBatchTests(SagaApp app) : IClassFixture<SagaApp>
{
    [Fact]
    public async Task A_batch_confirms_each_saga_with_its_own_steps_span_and_event_and_hands_back_the_one_whose_hold_is_gone()
    {
        using var recorder = new SpanRecorder(BookingTelemetry.SagaSourceName, BookingTelemetry.LuaSourceName);
        var spans = recorder.Spans;

        var performance = await app.CreatePerformanceAsync(("A", 1, 8));
        using var client = app.Client();
        var good = new List<Guid>();
        for (var seat = 1; seat <= 6; seat++)
        {
            good.Add(await AddReservationAsync(await client.HoldSeatsAsync(performance, $"A-1-{seat}"), performance));
        }

        var releasedHold = await client.HoldSeatsAsync(performance, "A-1-7");
        (await client.DeleteAsync($"/api/holds/{releasedHold.HoldId}")).EnsureSuccessStatusCode();
        var released = await AddReservationAsync(releasedHold, performance);

        IReadOnlyList<Guid> handedBack;
        await using (var scope = app.WorkerServices.CreateAsyncScope())
        {
            handedBack = await scope.ServiceProvider.GetRequiredService<SagaOrchestrator>().RunBatchAsync([.. good, released], CancellationToken.None);
        }

        Assert.Equal([released], handedBack);
        await using var db = app.NewDbContext();
        var rows = await db.Reservations.AsNoTracking().Include(r => r.Saga).ThenInclude(s => s!.Steps)
            .Where(r => good.Contains(r.Id) || r.Id == released).ToDictionaryAsync(r => r.Id);
        Assert.All(good, id =>
        {
            Assert.Equal(ReservationStatus.Confirmed, rows[id].Status);
            Assert.Equal(["ConfirmHold", "AllocateSection", "CompleteReservation"], rows[id].Saga!.Steps.OrderBy(s => s.Id).Select(s => s.Name));
        });
        // Handed back to compensate on its own. The saga sweeper takes it up 3 s after its ConfirmHold started: a
        // machine that stalled that long before this read may see it compensated already, never anything else.
        (ReservationStatus, SagaState)[] handedBackStates = [(ReservationStatus.Pending, SagaState.Compensating), (ReservationStatus.Failed, SagaState.Failed)];
        Assert.Contains((rows[released].Status, rows[released].Saga!.State), handedBackStates);
        Assert.Equal("HOLD_RELEASED", rows[released].FailureCode);
        Assert.StartsWith("HOLD_RELEASED", rows[released].FailureReason, StringComparison.Ordinal);

        foreach (var id in good)
        {
            Assert.Equal(1, await app.WaitForEventAsync(BookingTopics.Completed, id));
            // Each saga is a span of its own whose step spans are its children, the completion's included.
            var saga = Assert.Single(spans, s => s.OperationName == "saga" && Equals(s.GetTagItem("reservation.id"), id.ToString("D")));
            var children = spans.Where(s => s.ParentSpanId == saga.SpanId).Select(s => s.OperationName).Order(StringComparer.Ordinal);
            Assert.Equal(["AllocateSection", "CompleteReservation", "ConfirmHold"], children);
        }

        // The allocations of the batch's sagas went to the performance service together, not one call each.
        var calls = spans.Where(s => s.OperationName == "allocate_sections" && good.Any(id => s.TraceId == spans.First(t => t.OperationName == "saga" && Equals(t.GetTagItem("reservation.id"), id.ToString("D"))).TraceId)).ToList();
        Assert.Contains(calls, call => (int)call.GetTagItem("allocation.batch_size")! > 1);

        using var stub = app.StubClient();
        var section = (await stub.GetFromJsonAsync<System.Text.Json.JsonElement>($"/performances/{performance}")).GetProperty("sections")[0];
        Assert.Equal(2, section.GetProperty("remaining").GetInt32());
    }

    [Fact]
    public async Task A_section_kept_waiting_holds_back_only_its_own_saga_and_not_the_others_sharing_its_allocation_call()
    {
        var slowPerformance = await app.CreatePerformanceAsync(("S", 1, 4));
        var performance = await app.CreatePerformanceAsync(("G", 1, 10));
        using var client = app.Client();
        var slow = await AddReservationAsync(await client.HoldSeatsAsync(slowPerformance, "S-1-1"), slowPerformance);
        var good = new List<Guid>();
        for (var seat = 1; seat <= 5; seat++)
        {
            good.Add(await AddReservationAsync(await client.HoldSeatsAsync(performance, $"G-1-{seat}"), performance));
        }

        // The slow performance's section row is locked elsewhere for as long as the batch runs.
        await using var other = new Npgsql.NpgsqlConnection(app.PerformanceDb);
        await other.OpenAsync();
        await using (var transaction = await other.BeginTransactionAsync())
        {
            await using (var lockRow = new Npgsql.NpgsqlCommand($"SELECT 1 FROM sections WHERE performance_id = '{slowPerformance}' FOR UPDATE", other, transaction))
            {
                await lockRow.ExecuteNonQueryAsync();
            }

            await using var scope = app.WorkerServices.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<SagaOrchestrator>().RunBatchAsync([slow, .. good], CancellationToken.None);

            // Read while the section is still locked: once it is free, the slow saga's own retry (its backoff is short,
            // and the sweeper may have started it already, waiting on the lock) can confirm it at any moment.
            await using var db = app.NewDbContext();
            var rows = await db.Reservations.AsNoTracking().Where(r => good.Contains(r.Id) || r.Id == slow).ToDictionaryAsync(r => r.Id, r => r.Status);
            Assert.All(good, id => Assert.Equal(ReservationStatus.Confirmed, rows[id]));
            Assert.Equal(ReservationStatus.Pending, rows[slow]);
            await transaction.RollbackAsync();
        }

        // Its own retry, once the section is free again, confirms it too.
        Assert.Equal(ReservationStatus.Confirmed, (await app.WaitForFinalAsync(slow, TimeSpan.FromSeconds(30))).Status);
    }

    [Fact]
    public async Task A_cancel_committed_while_a_batch_runs_hands_every_saga_back_and_each_then_ends_on_its_own()
    {
        var performance = await app.CreatePerformanceAsync(("C", 1, 4));
        using var client = app.Client();
        var ids = new List<Guid>();
        for (var seat = 1; seat <= 3; seat++)
        {
            ids.Add(await AddReservationAsync(await client.HoldSeatsAsync(performance, $"C-1-{seat}"), performance));
        }

        using var stub = app.StubClient();
        // The performance service does not answer in time: the batch's allocation call gives up at its 5 s attempt
        // timeout at the earliest, and only then does the batch commit (the failed step). So the cancel has those 5 s to
        // commit between the batch's read and its commit; the allocations come once the sagas run again.
        (await stub.PostAsJsonAsync("/_chaos", new { failureRate = 0.0, latencyMs = 30_000 })).EnsureSuccessStatusCode();
        IReadOnlyList<Guid> handedBack;
        try
        {
            await using var scope = app.WorkerServices.CreateAsyncScope();
            var batch = scope.ServiceProvider.GetRequiredService<SagaOrchestrator>().RunBatchAsync(ids, CancellationToken.None);
            // Once the batch has confirmed the holds (which it does after its read), it waits for the performance service.
            var seats = $"perf:{{{performance}}}:seats";
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!(await app.Redis.HashGetAsync(seats, ["C-1-1", "C-1-2", "C-1-3"])).All(seat => seat.StartsWith("B:")))
            {
                Assert.True(DateTime.UtcNow < deadline, "The batch did not confirm the holds in 30 s.");
                await Task.Delay(20);
            }

            (await client.PostAsync($"/api/reservations/{ids[1]}/cancel", null)).EnsureSuccessStatusCode();
            handedBack = await batch;
        }
        finally
        {
            (await stub.PostAsJsonAsync("/_chaos", new { failureRate = 0.0, latencyMs = 0 })).EnsureSuccessStatusCode();
        }

        Assert.Equal(ids.Order(), handedBack.Order());
        await using (var db = app.NewDbContext())
        {
            // Nothing of the batch committed: the other two are as they were.
            var others = await db.Reservations.AsNoTracking().Include(r => r.Saga).ThenInclude(s => s!.Steps).Where(r => r.Id != ids[1] && ids.Contains(r.Id)).ToListAsync();
            Assert.All(others, r => Assert.Equal((ReservationStatus.Pending, 0), (r.Status, r.Saga!.Steps.Count)));
        }

        await app.WorkerServices.GetRequiredService<SagaRunner>().RunBatchAsync(handedBack, CancellationToken.None);

        var final = (await app.WaitForAllFinalAsync(ids, TimeSpan.FromSeconds(30))).ToDictionary(r => r.Id, r => r.Status);
        Assert.Equal([ReservationStatus.Confirmed, ReservationStatus.Cancelled, ReservationStatus.Confirmed], ids.Select(id => final[id]));
        var section = (await stub.GetFromJsonAsync<System.Text.Json.JsonElement>($"/performances/{performance}")).GetProperty("sections")[0];
        Assert.Equal(2, section.GetProperty("remaining").GetInt32());
        // "A": available again.
        Assert.Equal("A", (string?)await app.Redis.HashGetAsync($"perf:{{{performance}}}:seats", "C-1-2"));
    }

    [Fact]
    public async Task A_saga_that_can_never_be_written_holds_back_only_itself_and_its_batch_mates_complete_on_their_own()
    {
        var performance = await app.CreatePerformanceAsync(("D", 1, 4));
        using var client = app.Client();
        var ids = new List<Guid>();
        for (var seat = 1; seat <= 3; seat++)
        {
            ids.Add(await AddReservationAsync(await client.HoldSeatsAsync(performance, $"D-1-{seat}"), performance));
        }

        // PostgreSQL refuses every change to one saga (as a constraint or a trigger of an operator's might), so the
        // batch's one commit fails every time that saga is in it.
        var refused = ids[1];
        await using var db = app.NewDbContext();
        await ExecuteAsync(db, $$"""
            CREATE FUNCTION refuse_one_saga() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.reservation_id = '{{refused}}' THEN RAISE EXCEPTION 'this saga cannot be written'; END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER refuse_one_saga BEFORE UPDATE ON sagas FOR EACH ROW EXECUTE FUNCTION refuse_one_saga();
            """);
        try
        {
            await app.WorkerServices.GetRequiredService<SagaRunner>().RunBatchAsync(ids, CancellationToken.None);
        }
        finally
        {
            await ExecuteAsync(db, "DROP TRIGGER refuse_one_saga ON sagas; DROP FUNCTION refuse_one_saga();");
        }

        var rows = await db.Reservations.AsNoTracking().Include(r => r.Saga).Where(r => ids.Contains(r.Id)).ToDictionaryAsync(r => r.Id);
        Assert.Equal(ReservationStatus.Confirmed, rows[ids[0]].Status);
        Assert.Equal(ReservationStatus.Confirmed, rows[ids[2]].Status);
        Assert.Equal((ReservationStatus.Pending, SagaState.Started), (rows[refused].Status, rows[refused].Saga!.State));
    }

    [Fact]
    public async Task A_saga_that_fails_alone_every_time_waits_its_backoff_instead_of_coming_first_at_every_sweep()
    {
        var performance = await app.CreatePerformanceAsync(("E", 1, 2));
        using var client = app.Client();
        var failing = await AddReservationAsync(await client.HoldSeatsAsync(performance, "E-1-1"), performance);
        var started = DateTimeOffset.UtcNow;

        // PostgreSQL refuses every change the saga itself makes (each one moves updated_at), so its run fails before
        // it records anything; only the runner's deferral, which moves next_attempt_at alone, gets through. Then the
        // saga is made long due, as one the sweep finds.
        await using var db = app.NewDbContext();
        await ExecuteAsync(db, $$"""
            CREATE FUNCTION refuse_saga_progress() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.reservation_id = '{{failing}}' AND NEW.updated_at IS DISTINCT FROM OLD.updated_at THEN
                RAISE EXCEPTION 'this saga cannot progress';
              END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER refuse_saga_progress BEFORE UPDATE ON sagas FOR EACH ROW EXECUTE FUNCTION refuse_saga_progress();
            """);
        Booking.Core.Data.Saga saga;
        try
        {
            await ExecuteAsync(db, $"UPDATE sagas SET next_attempt_at = now() - interval '1 minute' WHERE reservation_id = '{failing}'");
            await app.WorkerServices.GetRequiredService<SagaRunner>().RunBatchAsync([failing], CancellationToken.None);

            // Due before the run, it is due only after it now: the sweep's next ticks take the others first. The
            // worker's own sweep may be the one running it (the runner then leaves it to that run): wait for it.
            var deadline = DateTime.UtcNow.AddSeconds(10);
            saga = await db.Sagas.AsNoTracking().SingleAsync(s => s.ReservationId == failing);
            while (!(saga.NextAttemptAt > started) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
                saga = await db.Sagas.AsNoTracking().SingleAsync(s => s.ReservationId == failing);
            }
        }
        finally
        {
            await ExecuteAsync(db, "DROP TRIGGER refuse_saga_progress ON sagas; DROP FUNCTION refuse_saga_progress();");
        }

        Assert.Equal(SagaState.Started, saga.State);
        Assert.True(saga.NextAttemptAt > started, $"next attempt {saga.NextAttemptAt:O}, run started {started:O}");
    }

    [Fact]
    public async Task Sagas_postgresql_will_not_even_defer_are_kept_out_of_the_sweep_so_a_full_sweep_of_them_starves_no_other()
    {
        var performance = await app.CreatePerformanceAsync(("F", 1, 2));
        using var client = app.Client();
        var waiting = await AddReservationAsync(await client.HoldSeatsAsync(performance, "F-1-1"), performance);
        var stuck = new List<Guid>();
        for (var i = 0; i < SagaSweeper.MostPerSweep; i++)
        {
            stuck.Add(await app.AddPendingReservationAsync(performance, [$"F-9-{i}"], Guid.NewGuid()));
        }

        // A full sweep of sagas whose rows PostgreSQL refuses to change at all, long due: each run fails, and so does
        // the write that would move its next look later, so in PostgreSQL each stays the longest due. The saga
        // waiting behind them is due too. One transaction, so the worker's sweep sees all of it or none of it; the table
        // locked first, as CREATE TRIGGER will, so a saga the worker is writing meanwhile cannot deadlock with it.
        await using var db = app.NewDbContext();
        var stuckIds = string.Join(',', stuck);
        await ExecuteAsync(db, $$"""
            BEGIN;
            LOCK TABLE sagas IN SHARE ROW EXCLUSIVE MODE;
            UPDATE sagas SET next_attempt_at = now() - interval '1 hour' WHERE reservation_id = ANY('{{{stuckIds}}}'::uuid[]);
            UPDATE sagas SET next_attempt_at = now() - interval '1 minute' WHERE reservation_id = '{{waiting}}';
            CREATE FUNCTION refuse_stuck_sagas() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.reservation_id = ANY('{{{stuckIds}}}'::uuid[]) THEN RAISE EXCEPTION 'this saga cannot be written'; END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER refuse_stuck_sagas BEFORE UPDATE ON sagas FOR EACH ROW EXECUTE FUNCTION refuse_stuck_sagas();
            COMMIT;
            """);
        Reservation reservation;
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            reservation = await db.Reservations.AsNoTracking().SingleAsync(r => r.Id == waiting);
            while (reservation.Status == ReservationStatus.Pending && DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
                reservation = await db.Reservations.AsNoTracking().SingleAsync(r => r.Id == waiting);
            }

            Assert.Equal(SagaState.Started, (await db.Sagas.AsNoTracking().SingleAsync(s => s.ReservationId == stuck[0])).State);
        }
        finally
        {
            // The stuck sagas go with the trigger, so the worker's sweep does not spend the class's later tests on them.
            // The worker may be writing one of them meanwhile (its reservation's row, then its saga's, which DROP
            // TRIGGER has locked): PostgreSQL then ends one side of the deadlock, and this side runs again.
            await ExecuteAgainAfterDeadlocksAsync(db, $$"""
                DROP TRIGGER refuse_stuck_sagas ON sagas; DROP FUNCTION refuse_stuck_sagas();
                DELETE FROM reservations WHERE id = ANY('{{{stuckIds}}}'::uuid[]);
                """);
        }

        Assert.Equal(ReservationStatus.Confirmed, reservation.Status);
    }

    private static async Task ExecuteAgainAfterDeadlocksAsync(BookingDbContext db, string sql)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await ExecuteAsync(db, sql);
                return;
            }
            catch (Npgsql.PostgresException exception) when (exception.SqlState == Npgsql.PostgresErrorCodes.DeadlockDetected && attempt < 5)
            {
                // The statements ran as one transaction, and all of it was rolled back.
            }
        }
    }

    private static async Task ExecuteAsync(BookingDbContext db, string sql)
    {
        var connection = db.Database.GetDbConnection();
        if (connection.State != System.Data.ConnectionState.Open)
        {
            await connection.OpenAsync();
        }

        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    private Task<Guid> AddReservationAsync(Booking.Api.Holds.SeatHoldDto hold, string performance) =>
        app.AddPendingReservationAsync(performance, hold.SeatIds, hold.HoldId);
}
