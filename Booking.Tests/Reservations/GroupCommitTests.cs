using System.Collections.Concurrent;
using System.Diagnostics;
using Booking.Api.Http;
using Booking.Api.Reservations;
using Booking.Core;
using Booking.Core.Holds;
using Booking.Core.Outbox;
using Booking.Core.Reservations;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Booking.Tests.Reservations;

/// <summary>Reservations requested together commit together, and each request still gets its own answer.</summary>
public sealed class GroupCommitTests(BookingApp app) : IClassFixture<BookingApp>
{
    [Fact]
    public async Task Reservations_queued_together_share_a_transaction_and_a_conflicting_one_alone_is_refused()
    {
        using var recorder = new SpanRecorder(typeof(ReservationCommitter).Assembly.GetName().Name!);
        using var caller = new Activity("group-commit-test").Start();

        var committer = app.Service<ReservationCommitter>();
        var resource = $"group-{Guid.NewGuid():N}";
        var taken = NewReservation(resource, Guid.NewGuid());
        await committer.CommitAsync(taken, OutboxWriter.Create(BookingTopics.Requested, taken, taken.CreatedAt));

        var good = Enumerable.Range(0, 30).Select(_ => NewReservation(resource, Guid.NewGuid())).ToList();
        // Same hold as a reservation already committed: the unique hold id refuses it.
        var duplicate = NewReservation(resource, taken.HoldId);
        var commits = good.Take(15).Append(duplicate).Concat(good.Skip(15))
            .Select(r => (Reservation: r, Commit: committer.CommitAsync(r, OutboxWriter.Create(BookingTopics.Requested, r, r.CreatedAt)))).ToList();

        var refused = await Assert.ThrowsAsync<DbUpdateException>(() => commits.Single(c => c.Reservation == duplicate).Commit);
        Assert.Equal(PostgresErrorCodes.UniqueViolation, Assert.IsType<PostgresException>(refused.InnerException).SqlState);
        await Task.WhenAll(commits.Where(c => c.Reservation != duplicate).Select(c => c.Commit));

        await using var db = app.NewDbContext();
        var stored = await db.Reservations.AsNoTracking().Include(r => r.Saga).Where(r => r.ResourceId == resource).ToListAsync();
        Assert.Equal(good.Select(r => r.Id).Append(taken.Id).Order(), stored.Select(r => r.Id).Order());
        Assert.All(stored, r => Assert.Equal(SagaState.Started, r.Saga!.State));
        var keys = good.Select(r => r.Id.ToString("D")).ToList();
        Assert.Equal(30, await db.OutboxMessages.CountAsync(m => keys.Contains(m.MessageKey) && m.Topic == BookingTopics.Requested));
        // This test's commits only: the recorder also sees the commits of other classes' tests running alongside.
        var ours = recorder.Named("commit_reservations")
            .Where(span => span.TraceId == caller.TraceId || span.Links.Any(link => link.Context.TraceId == caller.TraceId));
        Assert.Contains(ours, span => (int)span.GetTagItem("booking.batch.size")! > 1);
    }

    [Fact]
    public async Task A_reservation_already_stored_under_its_own_id_is_answered_as_committed()
    {
        // As when a batch commits but its answer is lost: the one-at-a-time retry meets the batch's own row.
        var committer = app.Service<ReservationCommitter>();
        var reservation = NewReservation($"lost-{Guid.NewGuid():N}", Guid.NewGuid());
        await committer.CommitAsync(reservation, OutboxWriter.Create(BookingTopics.Requested, reservation, reservation.CreatedAt));

        await committer.CommitAsync(reservation, OutboxWriter.Create(BookingTopics.Requested, reservation, reservation.CreatedAt));

        await using var db = app.NewDbContext();
        Assert.Equal(1, await db.Reservations.CountAsync(r => r.Id == reservation.Id));
        Assert.Equal(1, await db.OutboxMessages.CountAsync(m => m.MessageKey == reservation.Id.ToString()));
    }

    [Fact]
    public async Task A_stopping_service_commits_what_was_queued_and_refuses_what_comes_after_with_a_503()
    {
        // A committer of its own, so stopping it leaves the API's in service for the other tests.
        var committer = new ReservationCommitter(app.Service<IServiceScopeFactory>(), app.Service<IOptions<BookingOptions>>(),
            NullLogger<ReservationCommitter>.Instance);
        await committer.StartAsync(CancellationToken.None);
        var resource = $"stopping-{Guid.NewGuid():N}";
        var queued = CommitNew(committer, resource, 50);

        // At once, as a stop right after the start: the writers may not have taken anything yet.
        var stopped = committer.StopAsync(CancellationToken.None);
        var late = CommitNew(committer, resource, 1).Single();

        var refusal = await Assert.ThrowsAsync<CommitRefusedException>(() => late);
        Assert.Equal(503, ProblemExceptionHandler.Classify(refusal).Status);
        await stopped.WaitAsync(TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken);
        Assert.All(queued, commit => Assert.True(commit.IsCompletedSuccessfully, commit.Exception?.ToString()));
        await using var db = app.NewDbContext();
        Assert.Equal(queued.Count, await db.Reservations.CountAsync(r => r.ResourceId == resource));
    }

    [Fact]
    public async Task Of_twenty_reservations_requested_at_once_only_the_one_postgresql_refuses_is_refused()
    {
        var performance = await app.CreatePerformanceAsync(("A", 2, 20));
        using var alice = app.Client($"alice-{Guid.NewGuid():N}");
        await alice.ReserveAsync((await alice.HoldSeatsAsync(performance, "A-1-1")).HoldId);
        // Redis loses its last writes: A-1-1 looks free again, so only PostgreSQL's seat guard can refuse it.
        await app.Redis.HashSetAsync($"perf:{{{performance}}}:seats", "A-1-1", "A");

        var clients = Enumerable.Range(0, 20).Select(i => app.Client($"user-{i}-{Guid.NewGuid():N}")).ToList();
        var holds = await Task.WhenAll(clients.Select((client, i) => client.HoldSeatsAsync(performance, i == 7 ? "A-1-1" : $"A-2-{i + 1}")));
        var answers = await Task.WhenAll(clients.Select((client, i) => client.PostJsonAsync("/api/reservations", new { holdId = holds[i].HoldId })));

        Assert.Equal(Enumerable.Range(0, 20).Select(i => i == 7 ? HttpStatusCode.Conflict : HttpStatusCode.Accepted), answers.Select(a => a.StatusCode));
        await answers[7].AssertProblemAsync(HttpStatusCode.Conflict, ProblemCodes.SeatsUnavailable);
        clients.ForEach(c => c.Dispose());
    }

    [Fact]
    public async Task A_batch_written_by_set_based_statements_reads_back_through_ef_as_it_was_built()
    {
        using var recorder = new SpanRecorder(typeof(ReservationCommitter).Assembly.GetName().Name!);
        using var caller = new Activity("set-based-test").Start();
        var committer = app.Service<ReservationCommitter>();
        var performance = $"set-{Guid.NewGuid():N}";
        var built = Enumerable.Range(1, 10).Select(i =>
        {
            var reservation = NewReservation(performance, Guid.NewGuid());
            reservation.Domain = BookingDomain.Performance;
            reservation.Slot = null;
            reservation.SeatIds = [$"A-{i}-1", $"A-{i}-2"];
            reservation.Quantity = 2;
            reservation.Contact = i % 2 == 0 ? new ContactInfo { Name = $"Zoë {i}", Email = "zoe@example.com" } : null;
            reservation.Saga!.TraceParent = $"00-{Guid.NewGuid():N}-{i:x16}-01";
            reservation.Details = [new ReservationDetail
            {
                Id = Guid.CreateVersion7(),
                ReservationId = reservation.Id,
                Type = "SEAT_HOLDER",
                Data = System.Text.Json.JsonDocument.Parse($$"""{"seatId":"A-{{i}}-1","name":"Guest {{i}}"}"""),
                CreatedAt = reservation.CreatedAt,
                UpdatedAt = reservation.CreatedAt,
            }];
            return reservation;
        }).ToList();

        await Task.WhenAll(built.Select(r => committer.CommitAsync(r, OutboxWriter.Create(BookingTopics.Requested, r, r.CreatedAt))));

        // Every batch of these went through the set-based statements: none fell back to change tracking.
        var commits = recorder.Named("commit_reservations")
            .Where(span => span.TraceId == caller.TraceId || span.Links.Any(link => link.Context.TraceId == caller.TraceId)).ToList();
        Assert.NotEmpty(commits);
        Assert.All(commits, span => Assert.Null(span.GetTagItem("booking.batch.outcome")));
        await using var db = app.NewDbContext();
        var stored = await db.Reservations.AsNoTracking().Include(r => r.Saga).Include(r => r.Details)
            .Where(r => r.ResourceId == performance).ToDictionaryAsync(r => r.Id);
        Assert.Equal(built.Count, stored.Count);
        foreach (var expected in built)
        {
            var actual = stored[expected.Id];
            Assert.Equivalent(ReservationDto.From(expected) with { Details = [] }, ReservationDto.From(actual) with { Details = [] }, strict: true);
            var (expectedDetail, actualDetail) = (Assert.Single(expected.Details), Assert.Single(actual.Details));
            Assert.Equal((expectedDetail.Id, expectedDetail.Type, expectedDetail.CreatedAt), (actualDetail.Id, actualDetail.Type, actualDetail.CreatedAt));
            Assert.True(System.Text.Json.JsonElement.DeepEquals(expectedDetail.Data.RootElement, actualDetail.Data.RootElement));
            Assert.Equal((expected.UserId, expected.HoldId, expected.CreatedAt), (actual.UserId, actual.HoldId, actual.CreatedAt));
            Assert.Equal((SagaState.Started, expected.Saga!.NextAttemptAt, expected.Saga.DeadlineAt, expected.Saga.TraceParent),
                (actual.Saga!.State, actual.Saga.NextAttemptAt, actual.Saga.DeadlineAt, actual.Saga.TraceParent));
        }

        // The seat guard followed the inserts, and each reservation's requested event is queued.
        var seats = await db.ReservationSeats.AsNoTracking().Where(s => s.ResourceId == performance).ToListAsync();
        Assert.Equal(built.SelectMany(r => r.SeatIds.Select(seat => (seat, r.Id))).Order(), seats.Select(s => (s.SeatId, s.ReservationId)).Order());
        var keys = built.Select(r => r.Id.ToString("D")).ToList();
        var events = await db.OutboxMessages.AsNoTracking().Where(m => keys.Contains(m.MessageKey)).ToListAsync();
        Assert.Equal(keys.Order(), events.Select(m => m.MessageKey).Order());
        Assert.All(events, m => Assert.Equal(BookingTopics.Requested, m.Topic));
    }

    /// <summary>Hands <paramref name="count"/> new reservations of <paramref name="resource"/> to the group commit at once.</summary>
    internal static List<Task> CommitNew(ReservationCommitter committer, string resource, int count) =>
        [.. Enumerable.Range(0, count).Select(_ => NewReservation(resource, Guid.NewGuid())).Select(r => committer.CommitAsync(r, OutboxWriter.Create(BookingTopics.Requested, r, r.CreatedAt)))];

    internal static Reservation NewReservation(string resource, Guid holdId)
    {
        // Whole milliseconds, so times compare equal after PostgreSQL's microseconds.
        var now = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        return new Reservation
        {
            Id = Guid.CreateVersion7(now),
            UserId = "alice",
            Domain = BookingDomain.Exhibition,
            ResourceId = resource,
            Slot = "2026-12-01",
            Quantity = 1,
            HoldId = holdId,
            Status = ReservationStatus.Pending,
            CreatedAt = now,
            UpdatedAt = now,
            // Due only in an hour: no saga worker runs here anyway.
            Saga = new Booking.Core.Data.Saga { State = SagaState.Started, CreatedAt = now, UpdatedAt = now, NextAttemptAt = now.AddHours(1), DeadlineAt = now.AddMinutes(5) },
        };
    }
}

/// <summary>The booking API whose statements give up after a second, counting the reservations it writes one at a time.</summary>
public class QuickTimeoutApp(Dependencies dependencies) : BookingApp(dependencies)
{
    private readonly SingleInsertCounter _counter = new();

    /// <summary>
    /// A connection whose open transaction locks the reservations table: PostgreSQL answers, but no reservation can be
    /// written until it is closed (which rolls the transaction back).
    /// </summary>
    public async Task<NpgsqlConnection> LockReservationsAsync()
    {
        var locker = new NpgsqlConnection(BookingDb);
        await locker.OpenAsync();
        var transaction = await locker.BeginTransactionAsync();
        await using var lockTable = new NpgsqlCommand("LOCK TABLE reservations IN SHARE ROW EXCLUSIVE MODE", locker, transaction);
        await lockTable.ExecuteNonQueryAsync();
        return locker;
    }

    /// <summary>Reservations written through change tracking, one at a time (the group commit's fallback), so far.</summary>
    public int SingleInserts => _counter.Count;

    protected override IEnumerable<KeyValuePair<string, string?>> Settings => [new("ConnectionStrings:bookingdb", $"{BookingDb};Command Timeout=1")];

    /// <summary>The booking database is migrated here, with no such timeout: the API then finds nothing to do.</summary>
    protected override async Task<string> CreateDatabaseAsync(string prefix)
    {
        var database = await base.CreateDatabaseAsync(prefix);
        if (prefix == "booking")
        {
            await using var db = new BookingDbContext(new DbContextOptionsBuilder<BookingDbContext>().UseNpgsql(database).UseSnakeCaseNamingConvention().Options);
            await db.Database.ApplyMigrationsAsync(CancellationToken.None);
        }

        return database;
    }

    protected override void ConfigureApiServices(IServiceCollection services) =>
        services.ConfigureDbContext<BookingDbContext>(options => options.AddInterceptors(_counter));

    private sealed class SingleInsertCounter : Microsoft.EntityFrameworkCore.Diagnostics.DbCommandInterceptor
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public override ValueTask<Microsoft.EntityFrameworkCore.Diagnostics.InterceptionResult<System.Data.Common.DbDataReader>> ReaderExecutingAsync(
            System.Data.Common.DbCommand command, Microsoft.EntityFrameworkCore.Diagnostics.CommandEventData eventData,
            Microsoft.EntityFrameworkCore.Diagnostics.InterceptionResult<System.Data.Common.DbDataReader> result, CancellationToken cancellationToken = default)
        {
            if (command.CommandText.Contains("INSERT INTO reservations", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref _count);
            }

            return ValueTask.FromResult(result);
        }
    }
}

public sealed class CommitStallTests(QuickTimeoutApp app) : IClassFixture<QuickTimeoutApp>
{
    [Fact]
    public async Task A_stalled_postgresql_fails_a_group_commit_at_once_rather_than_each_of_its_reservations_waiting_out_the_stall_in_turn()
    {
        var committer = app.Service<ReservationCommitter>();
        var resource = $"stall-{Guid.NewGuid():N}";
        // PostgreSQL answers, but no reservation can be written until the locker is closed.
        await using var locker = await app.LockReservationsAsync();

        var before = app.SingleInserts;
        var commits = GroupCommitTests.CommitNew(committer, resource, 20);
        foreach (var commit in commits)
        {
            var error = await Assert.ThrowsAnyAsync<Exception>(() => commit);
            Assert.Equal(503, ProblemExceptionHandler.Classify(error).Status);
        }

        await locker.CloseAsync();
        // One reservation of each failed batch is tried alone (it too meets the stall); the rest are not tried again.
        Assert.InRange(app.SingleInserts - before, 1, 5);
    }
}

/// <summary>A <see cref="QuickTimeoutApp"/> that keeps at most five reservations waiting for their commit.</summary>
public sealed class FewPendingApp(Dependencies dependencies) : QuickTimeoutApp(dependencies)
{
    public const int MaxPending = 5;

    protected override IEnumerable<KeyValuePair<string, string?>> Settings => [.. base.Settings, new("Booking:MaxPendingReservations", $"{MaxPending}")];
}

public sealed class CommitQueueBoundTests(FewPendingApp app) : IClassFixture<FewPendingApp>
{
    [Fact]
    public async Task Past_its_bound_a_reservation_is_refused_at_once_with_a_503_while_postgresql_stalls()
    {
        var committer = app.Service<ReservationCommitter>();
        var resource = $"bound-{Guid.NewGuid():N}";
        await using var locker = await app.LockReservationsAsync();

        const int requests = 300;
        var commits = GroupCommitTests.CommitNew(committer, resource, requests);
        // Read before anything could be written: the two writers took a batch each at most, five more wait.
        var refused = commits.Where(commit => commit.IsFaulted).ToList();
        await locker.CloseAsync();

        Assert.InRange(refused.Count, requests - (2 * ReservationCommitter.MaxBatch) - FewPendingApp.MaxPending, requests);
        Assert.All(refused, commit => Assert.Equal(503, ProblemExceptionHandler.Classify(commit.Exception!.InnerException!).Status));
        foreach (var commit in commits)
        {
            await Record.ExceptionAsync(() => commit);
        }

        await using var db = app.NewDbContext();
        Assert.True(await db.Reservations.CountAsync(r => r.ResourceId == resource) <= requests - refused.Count);
    }
}
