using Booking.Api.Holds;
using Booking.Api.Http;
using Booking.Core.Holds;
using Booking.Core.Lua;

namespace Booking.Tests.Holds;

public sealed class LostHoldReplyTests(LostRepliesApp app) : IClassFixture<LostRepliesApp>
{
    [Fact]
    public async Task A_hold_redis_took_but_whose_answer_was_lost_is_given_back_so_the_callers_retry_gets_its_seats()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 3));
        using var client = app.Client($"lost-hold-{Guid.NewGuid():N}");
        var body = new { seatIds = new[] { "A-1-1", "A-1-2" } };
        // The seats in Redis already, so the first hold is taken at its first try.
        (await client.GetAsync($"/api/performances/{performance}/seats")).EnsureSuccessStatusCode();
        app.Replies.LoseNext(app.Service<LuaRunner>().Scripts.HoldSeats.Sha1);

        await (await client.PostJsonAsync($"/api/performances/{performance}/holds", body)).AssertProblemAsync(HttpStatusCode.ServiceUnavailable, ProblemCodes.DependencyUnavailable);

        // The hold nobody was told of is given back in the background; a retry a moment later gets the seats.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        HttpResponseMessage retry;
        while (true)
        {
            await Task.Delay(100);
            retry = await client.PostJsonAsync($"/api/performances/{performance}/holds", body);
            if (retry.StatusCode != HttpStatusCode.Conflict || DateTime.UtcNow > deadline)
            {
                break;
            }

            retry.Dispose();
        }

        using (retry)
        {
            var hold = await retry.ReadAsync<SeatHoldDto>(HttpStatusCode.Created);
            var seats = ResourceRef.Performance(performance).StateKey;
            Assert.Equal($"H:{hold.HoldId:D}", (string?)await app.Redis.HashGetAsync(seats, "A-1-1"));
            Assert.Equal($"H:{hold.HoldId:D}", (string?)await app.Redis.HashGetAsync(seats, "A-1-2"));
        }
    }
}
