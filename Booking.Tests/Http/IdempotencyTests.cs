using System.Net;
using Booking.Api.Http;
using Booking.Api.Idempotency;
using Booking.Core.Reservations;
using Booking.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Booking.Tests.Http;

public sealed class IdempotencyTests(BookingApp app) : IClassFixture<BookingApp>
{
    [Fact]
    public async Task The_same_key_and_body_replays_the_first_response_and_creates_nothing_new()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        using var client = app.Client($"idem-{Guid.NewGuid():N}");
        var hold = await client.HoldSeatsAsync(performance, "A-1-1");
        var key = Guid.NewGuid().ToString();

        async Task<HttpResponseMessage> Post(object body)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/api/reservations") { Content = System.Net.Http.Json.JsonContent.Create(body) };
            request.Headers.Add(IdempotencyMiddleware.HeaderName, key);
            return await client.SendAsync(request);
        }

        var first = await Post(new { holdId = hold.HoldId });
        var firstBody = await first.Content.ReadAsStringAsync();
        var again = await Post(new { holdId = hold.HoldId });

        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);
        Assert.Equal(firstBody, await again.Content.ReadAsStringAsync());
        Assert.Equal(first.Headers.Location, again.Headers.Location);
        Assert.Equal("true", again.Headers.GetValues(IdempotencyMiddleware.ReplayedHeaderName).Single());
        await using var db = app.NewDbContext();
        Assert.Equal(1, await db.Reservations.CountAsync(r => r.HoldId == hold.HoldId));

        var other = await client.HoldSeatsAsync(performance, "A-1-2");
        await (await Post(new { holdId = other.HoldId })).AssertProblemAsync(HttpStatusCode.UnprocessableEntity, ProblemCodes.IdempotencyKeyReused);
        Assert.False(await db.Reservations.AnyAsync(r => r.HoldId == other.HoldId));
    }

    [Fact]
    public async Task Keys_belong_to_their_caller()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        var key = Guid.NewGuid().ToString();
        using var alice = app.Client("alice");
        using var bob = app.Client("bob");
        alice.DefaultRequestHeaders.Add(IdempotencyMiddleware.HeaderName, key);
        bob.DefaultRequestHeaders.Add(IdempotencyMiddleware.HeaderName, key);

        var aliceHold = await (await alice.PostJsonAsync($"/api/performances/{performance}/holds", new { seatIds = new[] { "A-1-3" } }))
            .ReadAsync<Booking.Api.Seats.SeatHoldDto>(HttpStatusCode.Created);
        var bobHold = await (await bob.PostJsonAsync($"/api/performances/{performance}/holds", new { seatIds = new[] { "A-1-4" } }))
            .ReadAsync<Booking.Api.Seats.SeatHoldDto>(HttpStatusCode.Created);

        Assert.NotEqual(aliceHold.HoldId, bobHold.HoldId);
    }

    [Fact]
    public async Task A_hundred_parallel_posts_with_one_key_make_one_reservation_and_get_the_same_reply()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        using var client = app.Client($"idem-{Guid.NewGuid():N}");
        var hold = await client.HoldSeatsAsync(performance, "A-1-5");
        var key = Guid.NewGuid().ToString();

        var replies = await Task.WhenAll(Enumerable.Range(0, 100).Select(async _ =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/reservations") { Content = System.Net.Http.Json.JsonContent.Create(new { holdId = hold.HoldId }) };
            request.Headers.Add(IdempotencyMiddleware.HeaderName, key);
            using var response = await client.SendAsync(request);
            return (response.StatusCode, Body: await response.Content.ReadAsStringAsync());
        }));

        Assert.All(replies, r => Assert.Equal(HttpStatusCode.Accepted, r.StatusCode));
        Assert.Single(replies.Select(r => r.Body).Distinct());
        await using var db = app.NewDbContext();
        Assert.Equal(1, await db.Reservations.CountAsync(r => r.HoldId == hold.HoldId));
    }

    [Fact]
    public async Task A_hundred_thousand_keyed_posts_without_a_valid_token_store_nothing()
    {
        var prefix = Guid.NewGuid().ToString("N");
        using var anonymous = app.Client(userId: null);
        using var forged = app.Client(userId: null);
        forged.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "forged");
        var sent = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, 100_000), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, cancellationToken) =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/reservations") { Content = System.Net.Http.Json.JsonContent.Create(new { holdId = Guid.NewGuid() }) };
            request.Headers.Add(IdempotencyMiddleware.HeaderName, $"{prefix}-{i}-{new string('k', 200)}");
            request.Headers.Add(CallerIdentity.HeaderName, $"spoofed-{i}");
            using var response = await (i % 2 == 0 ? anonymous : forged).SendAsync(request, cancellationToken);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Interlocked.Increment(ref sent);
        });

        Assert.Equal(100_000, sent);
        var server = app.Dependencies.RedisConnection.GetServers().Single();
        var stored = 0;
        await foreach (var _ in server.KeysAsync(pattern: $"idem:*{prefix}*"))
        {
            stored++;
        }

        Assert.Equal(0, stored);
    }
}
