using Booking.Api.Idempotency;

namespace Booking.Tests.Faults;

/// <summary>A request with an <c>Idempotency-Key</c> whose answer Redis refuses to keep still gets that answer.</summary>
public sealed class IdempotencyStoreFailureTests(OwnRedisApp app) : IClassFixture<OwnRedisApp>
{
    [Fact]
    public async Task A_detail_added_while_redis_stopped_taking_writes_is_answered_201_not_503()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 4));
        using var client = app.Client($"keep-{Guid.NewGuid():N}");
        var reservation = await client.ReserveAsync((await client.HoldSeatsAsync(performance, "A-1-1")).HoldId);
        var server = app.Redis.Multiplexer.GetServers().Single();

        // The request claims its key, then waits for the reservation's row, which this transaction holds while Redis
        // is made to refuse every write: the claim is taken, the answer cannot be kept.
        await using var db = app.NewDbContext();
        await using var transaction = await db.Database.BeginTransactionAsync();
        await db.Database.ExecuteSqlAsync($"SELECT 1 FROM reservations WHERE id = {reservation.Id} FOR UPDATE");
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/reservations/{reservation.Id}/details")
        {
            Content = JsonContent.Create(new { type = "NOTE", data = new { text = "window seat" } }),
        };
        request.Headers.Add(IdempotencyMiddleware.HeaderName, $"note-{Guid.NewGuid():N}");
        var sending = client.SendAsync(request);
        HttpResponseMessage response;
        try
        {
            await WaitForLockWaitAsync(db);
            await server.ConfigSetAsync("maxmemory", "1");
            await transaction.CommitAsync();
            response = await sending;
        }
        finally
        {
            await server.ConfigSetAsync("maxmemory", "0");
        }

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(1, await db.ReservationDetails.CountAsync(d => d.ReservationId == reservation.Id));
    }

    /// <summary>Until another session waits for a row lock.</summary>
    private static async Task WaitForLockWaitAsync(BookingDbContext db)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (await db.Database.SqlQueryRaw<int>("SELECT count(*)::int AS \"Value\" FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()").SingleAsync() == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "The request never waited for the reservation's row.");
            await Task.Delay(20);
        }
    }
}
