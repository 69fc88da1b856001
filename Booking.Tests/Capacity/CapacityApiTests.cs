using Booking.Api.Capacity;
using Booking.Api.Http;
using Booking.Core.Holds;
using Microsoft.Extensions.Hosting;

namespace Booking.Tests.Capacity;

public sealed class CapacityApiTests(BookingApp app) : IClassFixture<BookingApp>
{
    private static string NewResource() => $"r-{Guid.NewGuid():N}"[..24];

    [Fact]
    public async Task Put_sets_capacity_in_redis_and_postgresql_and_get_reads_it()
    {
        var resource = NewResource();
        using var client = app.Client("alice", BookingAuthentication.AdminRole);

        var set = await (await client.PutAsJsonAsync($"/api/capacity/EXHIBITION/{resource}/2026-12-01", new { capacity = 30 })).ReadAsync<CapacityDto>(HttpStatusCode.OK);
        var read = await (await client.GetAsync($"/api/capacity/exhibition/{resource}/2026-12-01")).ReadAsync<CapacityDto>(HttpStatusCode.OK);

        Assert.Equal(new CapacityDto(BookingDomain.Exhibition, resource, "2026-12-01", 30, 30, 0, 0), set);
        Assert.Equal(set, read);
        await using var db = app.NewDbContext();
        Assert.Equal(30, (await db.CapacitySlots.SingleAsync(s => s.ResourceId == resource)).Capacity);
    }

    [Fact]
    public async Task A_capacity_postgresql_refuses_to_store_is_not_set_in_redis_either()
    {
        var (fresh, existing) = (NewResource(), NewResource());
        using var client = app.Client("alice", BookingAuthentication.AdminRole);
        await client.SetCapacityAsync("EXHIBITION", existing, "2026-12-01", 100);

        // PostgreSQL refuses to store these two slots' new capacity (out of resources, say).
        await WhileRefusedAsync($"NEW.resource_id IN ('{fresh}', '{existing}')", atCommit: false, async () =>
        {
            await (await client.PutAsJsonAsync($"/api/capacity/EXHIBITION/{fresh}/2026-12-01", new { capacity = 30 }))
                .AssertProblemAsync(HttpStatusCode.ServiceUnavailable, ProblemCodes.DependencyUnavailable);
            await (await client.PutAsJsonAsync($"/api/capacity/EXHIBITION/{existing}/2026-12-01", new { capacity = 10 }))
                .AssertProblemAsync(HttpStatusCode.ServiceUnavailable, ProblemCodes.DependencyUnavailable);
        });

        // Redis agrees with PostgreSQL: no slot where nothing was stored, the old capacity where it was kept.
        await (await client.GetAsync($"/api/capacity/EXHIBITION/{fresh}/2026-12-01")).AssertProblemAsync(HttpStatusCode.NotFound, ProblemCodes.NotFound);
        Assert.False(await app.Redis.KeyExistsAsync(new ResourceRef(BookingDomain.Exhibition, fresh, "2026-12-01").StateKey));
        Assert.Equal(100, (await (await client.GetAsync($"/api/capacity/EXHIBITION/{existing}/2026-12-01")).ReadAsync<CapacityDto>(HttpStatusCode.OK)).Capacity);
    }

    [Fact]
    public async Task A_capacity_change_whose_commit_fails_after_redis_took_it_is_undone_in_redis()
    {
        var resource = NewResource();
        using var client = app.Client("alice", BookingAuthentication.AdminRole);
        await client.SetCapacityAsync("EXHIBITION", resource, "2026-12-01", 100);

        // PostgreSQL accepts the change but refuses it at commit, after Redis has taken it (a deferred check).
        await WhileRefusedAsync($"NEW.resource_id = '{resource}'", atCommit: true, async () =>
            await (await client.PutAsJsonAsync($"/api/capacity/EXHIBITION/{resource}/2026-12-01", new { capacity = 10 }))
                .AssertProblemAsync(HttpStatusCode.ServiceUnavailable, ProblemCodes.DependencyUnavailable));

        Assert.Equal(100, (await (await client.GetAsync($"/api/capacity/EXHIBITION/{resource}/2026-12-01")).ReadAsync<CapacityDto>(HttpStatusCode.OK)).Capacity);
    }

    [Fact]
    public async Task A_failed_capacity_change_puts_back_the_capacity_another_change_committed_while_it_waited()
    {
        var resource = NewResource();
        var url = $"/api/capacity/EXHIBITION/{resource}/2026-12-01";
        using var client = app.Client("alice", BookingAuthentication.AdminRole);
        await client.SetCapacityAsync("EXHIBITION", resource, "2026-12-01", 20);

        await WhileRefusedAsync($"NEW.resource_id = '{resource}' AND NEW.capacity = 10", atCommit: true, async () =>
        {
            // Another change to 50 under way: its row locked, Redis set, not committed yet.
            await using var other = new Npgsql.NpgsqlConnection(app.BookingDb);
            await other.OpenAsync();
            await using var transaction = await other.BeginTransactionAsync();
            await using (var update = new Npgsql.NpgsqlCommand($"UPDATE capacity_slots SET capacity = 50 WHERE resource_id = '{resource}'", other, transaction))
            {
                await update.ExecuteNonQueryAsync();
            }

            await app.Service<Booking.Core.Capacity.CapacityEngine>().SetAsync(new ResourceRef(BookingDomain.Exhibition, resource, "2026-12-01"), 50, newSlot: false);

            // This change to 10 waits for that row, then fails at its commit, after Redis took it.
            var change = client.PutAsJsonAsync(url, new { capacity = 10 });
            await WaitUntilSomeoneWaitsForAsync(other.ProcessID);
            await transaction.CommitAsync();
            await (await change).AssertProblemAsync(HttpStatusCode.ServiceUnavailable, ProblemCodes.DependencyUnavailable);
        });

        Assert.Equal(50, (await (await client.GetAsync(url)).ReadAsync<CapacityDto>(HttpStatusCode.OK)).Capacity);
    }

    [Fact]
    public async Task Hold_takes_units_and_refuses_more_than_available_with_409()
    {
        var resource = NewResource();
        using var client = app.Client("alice", BookingAuthentication.AdminRole);
        await client.SetCapacityAsync("RESTAURANT", resource, "2026-12-01T19:00", 6);

        var hold = await client.HoldCapacityAsync("RESTAURANT", resource, "2026-12-01T19:00", 4);
        var problem = await (await client.PostJsonAsync($"/api/capacity/RESTAURANT/{resource}/2026-12-01T19:00/holds", new { quantity = 3 }))
            .AssertProblemAsync(HttpStatusCode.Conflict, ProblemCodes.CapacityUnavailable);

        Assert.Equal(4, hold.Quantity);
        Assert.Equal(2, problem.GetProperty("available").GetInt32());
        var read = await (await client.GetAsync($"/api/capacity/RESTAURANT/{resource}/2026-12-01T19:00")).ReadAsync<CapacityDto>(HttpStatusCode.OK);
        Assert.Equal((6, 2, 4, 0), (read.Capacity, read.Available, read.Held, read.Booked));
    }

    [Fact]
    public async Task Lowering_capacity_below_what_is_taken_is_409_and_changes_nothing()
    {
        var resource = NewResource();
        using var client = app.Client("alice", BookingAuthentication.AdminRole);
        await client.SetCapacityAsync("EXHIBITION", resource, "2026-12-02", 10);
        await client.HoldCapacityAsync("EXHIBITION", resource, "2026-12-02", 7);

        await (await client.PutAsJsonAsync($"/api/capacity/EXHIBITION/{resource}/2026-12-02", new { capacity = 6 })).AssertProblemAsync(HttpStatusCode.Conflict, ProblemCodes.InvalidState);

        var read = await (await client.GetAsync($"/api/capacity/EXHIBITION/{resource}/2026-12-02")).ReadAsync<CapacityDto>(HttpStatusCode.OK);
        Assert.Equal(10, read.Capacity);
        await using var db = app.NewDbContext();
        Assert.Equal(10, (await db.CapacitySlots.SingleAsync(s => s.ResourceId == resource)).Capacity);
    }

    [Fact]
    public async Task Unknown_slot_is_404_and_performance_is_not_a_capacity_domain()
    {
        using var client = app.Client("alice", BookingAuthentication.AdminRole);

        await (await client.GetAsync($"/api/capacity/EXHIBITION/{NewResource()}/2026-12-01")).AssertProblemAsync(HttpStatusCode.NotFound, ProblemCodes.NotFound);
        await (await client.PostJsonAsync($"/api/capacity/EXHIBITION/{NewResource()}/2026-12-01/holds", new { quantity = 1 })).AssertProblemAsync(HttpStatusCode.NotFound, ProblemCodes.NotFound);
        var problem = await (await client.PutAsJsonAsync($"/api/capacity/PERFORMANCE/{NewResource()}/2026-12-01", new { capacity = 5 })).AssertProblemAsync(HttpStatusCode.BadRequest, ProblemCodes.ValidationFailed);
        Assert.True(problem.GetProperty("errors").TryGetProperty("domain", out _));
    }

    [Fact]
    public async Task A_slot_redis_lost_is_rebuilt_from_postgresql_keeping_its_bookings()
    {
        var resource = NewResource();
        using var client = app.Client("alice", BookingAuthentication.AdminRole);
        await client.SetCapacityAsync("RESTAURANT", resource, "2026-12-31T20:00", 8);
        var hold = await client.HoldCapacityAsync("RESTAURANT", resource, "2026-12-31T20:00", 3);
        var reservation = await client.ReserveAsync(hold.HoldId);
        var slot = new ResourceRef(BookingDomain.Restaurant, resource, "2026-12-31T20:00");

        // Redis loses the slot entirely.
        await app.Redis.KeyDeleteAsync([slot.StateKey, slot.ExpiryKey, slot.HoldKey(hold.HoldId)]);

        var read = await (await client.GetAsync($"/api/capacity/RESTAURANT/{resource}/2026-12-31T20:00")).ReadAsync<CapacityDto>(HttpStatusCode.OK);
        Assert.Equal((8, 5, 0, 3), (read.Capacity, read.Available, read.Held, read.Booked));
        Assert.Equal("BOOKED", (string?)await app.Redis.HashGetAsync(slot.HoldKey(hold.HoldId), "state"));
        Assert.Equal(3, reservation.Quantity);
    }

    /// <summary>
    /// Runs <paramref name="act"/> while PostgreSQL refuses the rows of <c>capacity_slots</c> that match
    /// <paramref name="condition"/> as if out of resources (SQLSTATE 53100), at once or only at commit.
    /// </summary>
    private async Task WhileRefusedAsync(string condition, bool atCommit, Func<Task> act)
    {
        await using var db = new Npgsql.NpgsqlConnection(app.BookingDb);
        await db.OpenAsync();
        var trigger = atCommit
            ? "CONSTRAINT TRIGGER refuse_capacity AFTER INSERT OR UPDATE ON capacity_slots DEFERRABLE INITIALLY DEFERRED"
            : "TRIGGER refuse_capacity BEFORE INSERT OR UPDATE ON capacity_slots";
        await ExecuteAsync(db, $$"""
            CREATE FUNCTION refuse_capacity() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF {{condition}} THEN RAISE EXCEPTION 'no room' USING ERRCODE = '53100'; END IF;
              RETURN NEW;
            END $$;
            CREATE {{trigger}} FOR EACH ROW EXECUTE FUNCTION refuse_capacity();
            """);
        try
        {
            await act();
        }
        finally
        {
            await ExecuteAsync(db, "DROP TRIGGER refuse_capacity ON capacity_slots; DROP FUNCTION refuse_capacity();");
        }
    }

    private async Task WaitUntilSomeoneWaitsForAsync(int backend)
    {
        await using var watch = new Npgsql.NpgsqlConnection(app.BookingDb);
        await watch.OpenAsync();
        await using var waiting = new Npgsql.NpgsqlCommand($"SELECT count(*) FROM pg_stat_activity WHERE {backend} = ANY(pg_blocking_pids(pid))", watch);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((long)(await waiting.ExecuteScalarAsync())! == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "Nothing waited for the other change's row.");
            await Task.Delay(20);
        }
    }

    private static async Task ExecuteAsync(Npgsql.NpgsqlConnection connection, string sql)
    {
        await using var command = new Npgsql.NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
