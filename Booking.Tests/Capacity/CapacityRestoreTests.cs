namespace Booking.Tests.Capacity;

/// <summary>What a failed capacity change leaves in Redis when another change is made around it.</summary>
public sealed class CapacityRestoreTests(WritesMeanwhileApp app) : IClassFixture<WritesMeanwhileApp>
{
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
            app.WhenNextCommitFails(null);
            await db.Database.ExecuteSqlRawAsync("DROP TRIGGER refuse_ten ON capacity_slots; DROP FUNCTION refuse_ten();");
        }

        // Redis agrees with what PostgreSQL committed.
        Assert.Equal(30, (await db.CapacitySlots.AsNoTracking().SingleAsync(s => s.ResourceId == resource)).Capacity);
        Assert.Equal(30, (await (await admin.GetAsync(url)).ReadAsync<Booking.Api.Capacity.CapacityDto>(HttpStatusCode.OK)).Capacity);
    }
}
