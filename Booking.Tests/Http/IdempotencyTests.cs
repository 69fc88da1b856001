using Booking.Api.Http;
using Booking.Api.Idempotency;
using Booking.Core.Reservations;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace Booking.Tests.Http;

public sealed class IdempotencyTests(BookingApp app) : IClassFixture<BookingApp>
{
    [Fact]
    public async Task A_replay_is_answered_past_the_callers_rate_and_a_request_refused_for_its_rate_runs_when_sent_again()
    {
        var options = app.Service<Microsoft.Extensions.Options.IOptions<Booking.Core.BookingOptions>>().Value;
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        var user = $"idem-{Guid.NewGuid():N}";
        using var client = app.Client(user);
        async Task<HttpResponseMessage> Hold(string seat, string? key)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, $"/api/performances/{performance}/holds")
            {
                Content = System.Net.Http.Json.JsonContent.Create(new { seatIds = new[] { seat } }),
            };
            if (key is not null)
            {
                request.Headers.Add(IdempotencyMiddleware.HeaderName, key);
            }

            return await client.SendAsync(request);
        }

        var kept = Guid.NewGuid().ToString();
        var first = await Hold("A-1-1", kept);
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        // Spend the caller's rate (the seat is taken after the first: 409s spend it too), each with a key of its own,
        // and replay the first hold's key right behind them, while the rate is spent.
        var keys = Enumerable.Range(0, (options.HoldBurstPerUser + options.HoldsPerSecondPerUser) * 4).Select(_ => Guid.NewGuid().ToString()).ToList();
        var flood = await Task.WhenAll(keys.Select(key => Hold("A-1-2", key)).Append(Hold("A-1-1", kept)));
        var replay = flood[^1];
        Assert.Equal(HttpStatusCode.Created, replay.StatusCode);
        Assert.Equal(await first.Content.ReadAsStringAsync(), await replay.Content.ReadAsStringAsync());
        var limited = Enumerable.Range(0, keys.Count).FirstOrDefault(i => flood[i].StatusCode == HttpStatusCode.TooManyRequests, -1);
        Assert.True(limited >= 0, "The flood never met the rate limit.");
        // Keys refused with 429 keep nothing, not even a place in the caller's bounded index.
        Assert.Equal(1 + flood[..^1].Count(r => r.StatusCode != HttpStatusCode.TooManyRequests), await app.Redis.SortedSetLengthAsync($"idem:{{{user}}}#index"));

        // Sent again once the rate allows, a key refused with 429 runs (the seat is taken by now: 409), not a replayed 429.
        await Task.Delay(TimeSpan.FromSeconds(int.Parse(flood[limited].Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture) + 1));
        await (await Hold("A-1-2", keys[limited])).AssertProblemAsync(HttpStatusCode.Conflict, ProblemCodes.SeatsUnavailable);
    }

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
    public async Task A_read_only_batch_get_ignores_the_key_and_keeps_nothing()
    {
        var user = $"idem-read-{Guid.NewGuid():N}";
        using var client = app.Client(user);
        client.DefaultRequestHeaders.Add(IdempotencyMiddleware.HeaderName, "one-key");

        // Two different bodies under one key: a creating POST would answer the second 422; a read answers both.
        (await client.PostJsonAsync("/api/reservations/batch-get", new { ids = new[] { Guid.NewGuid() } })).EnsureSuccessStatusCode();
        (await client.PostJsonAsync("/api/reservations/batch-get", new { ids = new[] { Guid.NewGuid(), Guid.NewGuid() } })).EnsureSuccessStatusCode();
        (await client.PostJsonAsync("/api/reservation-details/batch-get", new { ids = new[] { Guid.NewGuid() } })).EnsureSuccessStatusCode();

        var server = app.Dependencies.RedisConnection.GetServers().Single();
        await foreach (var key in server.KeysAsync(pattern: $"idem:{{{user}}}*"))
        {
            Assert.Fail($"{key} was stored for a read.");
        }
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
            .ReadAsync<Booking.Api.Holds.SeatHoldDto>(HttpStatusCode.Created);
        var bobHold = await (await bob.PostJsonAsync($"/api/performances/{performance}/holds", new { seatIds = new[] { "A-1-4" } }))
            .ReadAsync<Booking.Api.Holds.SeatHoldDto>(HttpStatusCode.Created);

        Assert.NotEqual(aliceHold.HoldId, bobHold.HoldId);
    }

    [Fact]
    public async Task Callers_and_keys_that_spell_the_same_text_together_stay_apart()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        var user = $"u{Guid.NewGuid():N}";
        // "{user}" with key "x}:y" and "{user}}:x" with key "y": the same text once caller and key are put together.
        using var first = app.Client(user);
        using var second = app.Client($"{user}}}:x");
        first.DefaultRequestHeaders.Add(IdempotencyMiddleware.HeaderName, "x}:y");
        second.DefaultRequestHeaders.Add(IdempotencyMiddleware.HeaderName, "y");

        var firstHold = await (await first.PostJsonAsync($"/api/performances/{performance}/holds", new { seatIds = new[] { "A-1-1" } }))
            .ReadAsync<Booking.Api.Holds.SeatHoldDto>(HttpStatusCode.Created);
        using var secondResponse = await second.PostJsonAsync($"/api/performances/{performance}/holds", new { seatIds = new[] { "A-1-2" } });
        var secondHold = await secondResponse.ReadAsync<Booking.Api.Holds.SeatHoldDto>(HttpStatusCode.Created);

        Assert.NotEqual(firstHold.HoldId, secondHold.HoldId);
        Assert.False(secondResponse.Headers.Contains(IdempotencyMiddleware.ReplayedHeaderName));
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

/// <summary>
/// The API with a ten-second key lease (renewed every 3.3 s, so a stall of several seconds on a busy machine does not
/// let it lapse), ten records and 8 KiB of answers per user, and a test-only creating endpoint
/// (<c>POST /_test/slow?ms=&amp;pad=</c>) behind the whole pipeline that counts its runs, takes as long as asked and
/// answers with as many more bytes as asked.
/// </summary>
public sealed class SlowEndpointApp(Dependencies dependencies) : BookingApp(dependencies)
{
    public int Runs => _runs;

    private int _runs;

    protected override IEnumerable<KeyValuePair<string, string?>> Settings =>
    [
        new("Booking:IdempotencyLease", "00:00:10"),
        new("Booking:IdempotencyRecordsPerUser", "10"),
        new("Booking:IdempotencyBytesPerUser", "8192"),
    ];

    protected override void ConfigureApiServices(IServiceCollection services) =>
        services.AddSingleton<IStartupFilter>(new SlowEndpoint(this));

    private sealed class SlowEndpoint(SlowEndpointApp app) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => builder =>
        {
            // A creating POST as far as the pipeline can tell (it carries the Idempotency-Key mark), chosen before the
            // API's routing runs, which leaves an endpoint already chosen as it is.
            var endpoint = new Endpoint(RunAsync, new EndpointMetadataCollection(IdempotentEndpoint.Metadata), "test slow endpoint");
            builder.Use((context, nextMiddleware) =>
            {
                if (context.Request.Path == "/_test/slow")
                {
                    context.SetEndpoint(endpoint);
                }

                return nextMiddleware(context);
            });
            next(builder);
        };

        private async Task RunAsync(HttpContext context)
        {
            var run = Interlocked.Increment(ref app._runs);
            await Task.Delay(int.Parse(context.Request.Query["ms"]!, System.Globalization.CultureInfo.InvariantCulture));
            context.Response.StatusCode = StatusCodes.Status201Created;
            var pad = int.Parse(context.Request.Query["pad"].FirstOrDefault() ?? "0", System.Globalization.CultureInfo.InvariantCulture);
            await context.Response.WriteAsync($"run {run}{new string('x', pad)}");
        }
    }
}

public sealed class IdempotencyBoundsTests(SlowEndpointApp app, ITestOutputHelper output) : IClassFixture<SlowEndpointApp>
{
    private static HttpRequestMessage Post(string key, int delayMs, int pad = 0) =>
        new(HttpMethod.Post, $"/_test/slow?ms={delayMs}&pad={pad}") { Content = new StringContent("{}"), Headers = { { IdempotencyMiddleware.HeaderName, key } } };

    [Fact]
    public async Task A_request_slower_than_the_lease_keeps_its_key_and_a_retry_gets_its_reply_instead_of_running_again()
    {
        using var client = app.Client($"slow-{Guid.NewGuid():N}");
        var key = Guid.NewGuid().ToString();
        var before = app.Runs;

        var first = client.SendAsync(Post(key, 23_000));
        // The retry arrives when the first has run past its ten-second lease twice over, and waits (up to 10 s) for its reply.
        await Task.Delay(TimeSpan.FromSeconds(21));
        var retry = await client.SendAsync(Post(key, 23_000));
        var original = await first;

        Assert.Equal(HttpStatusCode.Created, original.StatusCode);
        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
        Assert.Equal(await original.Content.ReadAsStringAsync(), await retry.Content.ReadAsStringAsync());
        Assert.Equal(1, app.Runs - before);
    }

    [Fact]
    public async Task A_user_keeps_at_most_the_bounded_number_of_records_and_the_oldest_go_first()
    {
        var user = $"many-{Guid.NewGuid():N}";
        using var client = app.Client(user);
        for (var i = 0; i < 30; i++)
        {
            (await client.SendAsync(Post($"key-{i}", 0))).EnsureSuccessStatusCode();
        }

        var server = app.Dependencies.RedisConnection.GetServers().Single();
        var records = new List<string>();
        await foreach (var record in server.KeysAsync(pattern: $"idem:{{{user}}}:*"))
        {
            records.Add(record.ToString());
        }

        Assert.Equal(Enumerable.Range(20, 10).Select(i => $"idem:{{{user}}}:key-{i}").Order(), records.Order());
        // A kept key still replays; a dropped one runs again.
        var runs = app.Runs;
        Assert.True((await client.SendAsync(Post("key-29", 0))).Headers.Contains(IdempotencyMiddleware.ReplayedHeaderName));
        Assert.False((await client.SendAsync(Post("key-0", 0))).Headers.Contains(IdempotencyMiddleware.ReplayedHeaderName));
        Assert.Equal(runs + 1, app.Runs);
    }

    [Fact]
    public async Task A_user_keeps_answers_of_at_most_the_bounded_bytes_and_the_oldest_go_first()
    {
        var user = $"bulky-{Guid.NewGuid():N}";
        using var client = app.Client(user);
        // Answers of 1,500 bytes more are kept as about 2.2 KB each (base64 in the record): three fit in 8 KiB, four do not.
        for (var i = 0; i < 6; i++)
        {
            (await client.SendAsync(Post($"key-{i}", 0, pad: 1500))).EnsureSuccessStatusCode();
        }

        var server = app.Dependencies.RedisConnection.GetServers().Single();
        var database = app.Dependencies.RedisConnection.GetDatabase();
        var records = new List<string>();
        long recordBytes = 0;
        await foreach (var record in server.KeysAsync(pattern: $"idem:{{{user}}}:*"))
        {
            records.Add(record.ToString());
            recordBytes += await database.StringLengthAsync(record);
        }

        Assert.Equal(Enumerable.Range(3, 3).Select(i => $"idem:{{{user}}}:key-{i}").Order(), records.Order());
        // The count the bound is kept by is what the records take.
        Assert.Equal(recordBytes, (long)await database.StringGetAsync($"idem:{{{user}}}#bytes"));
        Assert.InRange(recordBytes, 1, 8192);
        var runs = app.Runs;
        Assert.True((await client.SendAsync(Post("key-5", 0, pad: 1500))).Headers.Contains(IdempotencyMiddleware.ReplayedHeaderName));
        Assert.False((await client.SendAsync(Post("key-0", 0, pad: 1500))).Headers.Contains(IdempotencyMiddleware.ReplayedHeaderName));
        Assert.Equal(runs + 1, app.Runs);
    }

    [Fact]
    public async Task A_hundred_thousand_keyed_posts_from_ten_users_keep_ten_records_each_and_far_under_five_megabytes()
    {
        var users = Enumerable.Range(0, 10).Select(i => $"flood-{i}-{Guid.NewGuid():N}").ToArray();
        var clients = users.Select(user => app.Client(user)).ToArray();
        await Parallel.ForEachAsync(Enumerable.Range(0, 100_000), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, cancellationToken) =>
        {
            using var response = await clients[i % clients.Length].SendAsync(Post($"{i}-{new string('k', 200)}", 0), cancellationToken);
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        });

        var server = app.Dependencies.RedisConnection.GetServers().Single();
        var database = app.Dependencies.RedisConnection.GetDatabase();
        long records = 0, bytes = 0;
        foreach (var user in users)
        {
            await foreach (var key in server.KeysAsync(pattern: $"idem:{{{user}}}*"))
            {
                records++;
                bytes += (long)await database.ExecuteAsync("MEMORY", "USAGE", key);
            }
        }

        // Ten records per user, and its index, answer sizes and their total.
        Assert.Equal(130, records);
        output.WriteLine($"{records} keys, {bytes} bytes (MEMORY USAGE) kept for 100,000 keyed requests of 200-character keys");
        Assert.True(bytes < 5 * 1024 * 1024, $"{bytes} bytes kept for 100,000 keyed requests.");
        foreach (var client in clients)
        {
            client.Dispose();
        }
    }
}
