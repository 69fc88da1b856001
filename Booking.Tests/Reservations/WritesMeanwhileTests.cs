using System.Data.Common;
using System.Text.Json;
using Booking.Api.Reservations;
using Booking.Core.Holds;
using Booking.Core.Reservations;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Booking.Tests.Reservations;

/// <summary>The booking API with a hook that runs a write of the test's right before one of the API's own queries.</summary>
public sealed class WritesMeanwhileApp(Dependencies dependencies) : BookingApp(dependencies)
{
    private readonly BeforeCommand _hook = new();

    /// <summary>
    /// Runs <paramref name="write"/> right before each of the API's next <paramref name="times"/> commands whose SQL
    /// contains <paramref name="sql"/>.
    /// </summary>
    public void BeforeNextCommands(string sql, Func<Task> write, int times = 1) => _hook.Arm(sql, write, times);

    /// <summary>Runs <paramref name="write"/> once, when the API's next commit fails (PostgreSQL has rolled it back by then).</summary>
    public void WhenNextCommitFails(Func<Task> write) => _commitFailed.Armed = write;

    private readonly WhenCommitFails _commitFailed = new();

    protected override void ConfigureApiServices(IServiceCollection services) =>
        services.ConfigureDbContext<BookingDbContext>(options => options.AddInterceptors(_hook, _commitFailed));

    private sealed class WhenCommitFails : DbTransactionInterceptor
    {
        private Func<Task>? _armed;

        public Func<Task>? Armed { set => _armed = value; }

        public override async Task TransactionFailedAsync(DbTransaction transaction, TransactionErrorEventData eventData, CancellationToken cancellationToken = default)
        {
            if (eventData.Action == "Commit" && Interlocked.Exchange(ref _armed, null) is { } write)
            {
                await write();
            }
        }
    }

    private sealed class BeforeCommand : DbCommandInterceptor
    {
        private readonly Lock _lock = new();
        private (string Sql, Func<Task> Write, int Left)? _armed;

        public void Arm(string sql, Func<Task> write, int times)
        {
            lock (_lock)
            {
                _armed = (sql, write, times);
            }
        }

        public override async ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(
            DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default)
        {
            if (Take(command.CommandText) is { } write)
            {
                await write();
            }

            return result;
        }

        private Func<Task>? Take(string commandText)
        {
            lock (_lock)
            {
                if (_armed is not { } armed || !commandText.Contains(armed.Sql, StringComparison.Ordinal))
                {
                    return null;
                }

                _armed = armed.Left > 1 ? armed with { Left = armed.Left - 1 } : null;
                return armed.Write;
            }
        }
    }
}

public sealed class WritesMeanwhileTests(WritesMeanwhileApp app) : IClassFixture<WritesMeanwhileApp>
{
    [Fact]
    public async Task A_reservation_stored_while_a_page_is_read_leaves_the_pages_details_whole()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        var user = $"list-{Guid.NewGuid():N}";
        using var client = app.Client(user);
        var made = new List<Guid>();
        for (var seat = 1; seat <= 3; seat++)
        {
            var hold = await client.HoldSeatsAsync(performance, $"A-1-{seat}");
            made.Add((await client.ReserveAsync(hold.HoldId, new[] { new { type = "NOTE", data = (object)new { text = $"seat {seat}" } } })).Id);
        }

        // A newer reservation of the same caller, with a detail, lands between the page's query and its details' query.
        app.BeforeNextCommands("reservation_details", async () =>
        {
            var now = DateTimeOffset.UtcNow;
            await using var db = app.NewDbContext();
            db.Reservations.Add(new Reservation
            {
                Id = Guid.CreateVersion7(now),
                UserId = user,
                Domain = BookingDomain.Restaurant,
                ResourceId = "bistro",
                Slot = "2026-12-24T19:00",
                Quantity = 2,
                HoldId = Guid.NewGuid(),
                Status = ReservationStatus.Pending,
                CreatedAt = now,
                UpdatedAt = now,
                Details = [new ReservationDetail { Type = "NOTE", Data = JsonDocument.Parse("""{"text":"newer"}"""), CreatedAt = now, UpdatedAt = now }],
            });
            await db.SaveChangesAsync();
        });

        var page = await (await client.GetAsync("/api/reservations")).ReadAsync<ReservationPage>(HttpStatusCode.OK);

        Assert.Equal(Enumerable.Reverse(made), page.Items.Select(r => r.Id));
        Assert.All(page.Items, r => Assert.Single(r.Details));
    }

    [Fact]
    public async Task A_cancel_refused_because_the_reservation_kept_changing_runs_again_when_retried_with_its_key()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 1));
        using var client = app.Client($"cancel-{Guid.NewGuid():N}");
        var reservation = await client.ReserveAsync((await client.HoldSeatsAsync(performance, "A-1-1")).HoldId);
        var key = $"cancel-{Guid.NewGuid():N}";
        HttpRequestMessage Cancel() => new(HttpMethod.Post, $"/api/reservations/{reservation.Id}/cancel") { Headers = { { "Idempotency-Key", key } } };

        // Another writer (the saga, in production) changes the reservation right before each of the cancel's writes.
        app.BeforeNextCommands("UPDATE reservations", async () =>
        {
            await using var db = app.NewDbContext();
            await db.Database.ExecuteSqlInterpolatedAsync($"UPDATE reservations SET updated_at = updated_at WHERE id = {reservation.Id}");
        }, times: 3);
        await (await client.SendAsync(Cancel())).AssertProblemAsync(HttpStatusCode.Conflict, ProblemCodes.InvalidState);

        // The answer said "retry": the retry runs, instead of being told the same again for as long as keys are kept.
        using var retried = await client.SendAsync(Cancel());
        Assert.False(retried.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal(ReservationStatus.Cancelling, (await retried.ReadAsync<ReservationDto>(HttpStatusCode.Accepted)).Status);
    }

    [Fact]
    public async Task A_failed_capacity_change_does_not_undo_in_redis_a_change_committed_right_after_it_failed()
    {
        var resource = $"restore-{Guid.NewGuid():N}"[..24];
        var url = $"/api/capacity/EXHIBITION/{resource}/2026-12-01";
        using var admin = app.Client("admin", BookingAuthentication.AdminRole);
        await admin.SetCapacityAsync("EXHIBITION", resource, "2026-12-01", 20);

        // PostgreSQL refuses the change to 10 at its commit, after Redis took it; right then, another change to 30 is
        // made and committed, before the failed one puts anything back.
        await using var db = app.NewDbContext();
        await db.Database.ExecuteSqlRawAsync("""
            CREATE FUNCTION refuse_ten() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.resource_id LIKE 'restore-%' AND NEW.capacity = 10 THEN RAISE EXCEPTION 'no room' USING ERRCODE = '53100'; END IF;
              RETURN NEW;
            END $$;
            CREATE CONSTRAINT TRIGGER refuse_ten AFTER UPDATE ON capacity_slots DEFERRABLE INITIALLY DEFERRED
              FOR EACH ROW EXECUTE FUNCTION refuse_ten();
            """);
        try
        {
            app.WhenNextCommitFails(async () =>
            {
                using var other = app.Client("other-admin", BookingAuthentication.AdminRole);
                await other.SetCapacityAsync("EXHIBITION", resource, "2026-12-01", 30);
            });
            await (await admin.PutAsJsonAsync(url, new { capacity = 10 })).AssertProblemAsync(HttpStatusCode.ServiceUnavailable, ProblemCodes.DependencyUnavailable);
        }
        finally
        {
            await db.Database.ExecuteSqlRawAsync("DROP TRIGGER refuse_ten ON capacity_slots; DROP FUNCTION refuse_ten();");
        }

        // Redis agrees with what PostgreSQL committed.
        Assert.Equal(30, (await db.CapacitySlots.AsNoTracking().SingleAsync(s => s.ResourceId == resource)).Capacity);
        Assert.Equal(30, (await (await admin.GetAsync(url)).ReadAsync<Booking.Api.Capacity.CapacityDto>(HttpStatusCode.OK)).Capacity);
    }
}
