using Booking.Api.Http;
using Booking.Api.Holds;
using Booking.Api.Seats;
using Booking.Core.Seats;

namespace Booking.Tests.Seats;

public sealed class SeatsApiTests(BookingApp app) : IClassFixture<BookingApp>
{
    [Fact]
    public async Task Seat_map_is_loaded_from_the_performance_service_and_shows_live_status()
    {
        var performance = await app.CreatePerformanceAsync(("A", 2, 3), ("B", 1, 4));
        using var client = app.Client();
        (await client.PostJsonAsync($"/api/performances/{performance}/holds", new { seatIds = new[] { "A-1-2" } })).EnsureSuccessStatusCode();

        var map = await (await client.GetAsync($"/api/performances/{performance}/seats")).ReadAsync<SeatMapDto>(HttpStatusCode.OK);

        Assert.Equal(performance, map.PerformanceId);
        Assert.Equal([new SectionDto("A", 6, 5, 1, 0), new SectionDto("B", 4, 4, 0, 0)], map.Sections);
        Assert.Equal(10, map.Seats.Count);
        Assert.Equal("A-1-1", map.Seats[0].SeatId);
        Assert.Equal(SeatStatus.Held, map.Seats.Single(s => s.SeatId == "A-1-2").Status);
        Assert.Equal(10, await app.Redis.HashLengthAsync($"perf:{{{performance}}}:seats"));
    }

    [Fact]
    public async Task Seat_map_filters_by_section_and_status()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 3), ("B", 1, 3));
        using var client = app.Client();
        (await client.PostJsonAsync($"/api/performances/{performance}/holds", new { seatIds = new[] { "B-1-1" } })).EnsureSuccessStatusCode();

        var map = await (await client.GetAsync($"/api/performances/{performance}/seats?section=B&status=held")).ReadAsync<SeatMapDto>(HttpStatusCode.OK);

        Assert.Equal([new SectionDto("B", 3, 2, 1, 0)], map.Sections);
        Assert.Equal([new SeatDto("B-1-1", "B", SeatStatus.Held)], map.Seats);
    }

    [Fact]
    public async Task A_performance_id_written_another_way_is_the_same_performance_and_its_held_seat_is_not_sold_again()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 3));
        using var alice = app.Client("alice");
        using var bob = app.Client("bob");
        await alice.HoldSeatsAsync(performance, "A-1-1");
        var id = Guid.Parse(performance);

        foreach (var spelling in new[] { performance.ToUpperInvariant(), id.ToString("N").ToUpperInvariant(), id.ToString("N") })
        {
            await (await bob.PostJsonAsync($"/api/performances/{Uri.EscapeDataString(spelling)}/holds", new { seatIds = new[] { "A-1-1" } }))
                .AssertProblemAsync(HttpStatusCode.Conflict, ProblemCodes.SeatsUnavailable);
            var map = await (await bob.GetAsync($"/api/performances/{Uri.EscapeDataString(spelling)}/seats")).ReadAsync<SeatMapDto>(HttpStatusCode.OK);
            Assert.Equal((performance, SeatStatus.Held), (map.PerformanceId, map.Seats.Single(s => s.SeatId == "A-1-1").Status));
        }

        var hold = await bob.HoldSeatsAsync(performance.ToUpperInvariant(), "A-1-2");
        Assert.Equal(performance, hold.PerformanceId);
        Assert.Empty(app.Redis.Multiplexer.GetServers()[0].Keys(pattern: $"perf:{{{performance.ToUpperInvariant()}}}*"));
        await (await bob.GetAsync("/api/performances/not-a-uuid/seats")).AssertProblemAsync(HttpStatusCode.NotFound, ProblemCodes.NotFound);
    }

    [Fact]
    public async Task Unknown_performance_is_404_problem()
    {
        using var client = app.Client();
        await (await client.GetAsync($"/api/performances/{Guid.NewGuid()}/seats")).AssertProblemAsync(HttpStatusCode.NotFound, ProblemCodes.NotFound);
        await (await client.PostJsonAsync($"/api/performances/{Guid.NewGuid()}/holds", new { seatIds = new[] { "A-1-1" } }))
            .AssertProblemAsync(HttpStatusCode.NotFound, ProblemCodes.NotFound);
        // A well-formed path id that is no UUID names no performance either: 404 for a hold as for the seat map.
        await (await client.PostJsonAsync("/api/performances/not-a-uuid/holds", new { seatIds = new[] { "A-1-1" } }))
            .AssertProblemAsync(HttpStatusCode.NotFound, ProblemCodes.NotFound);
    }

    [Fact]
    public async Task Hold_returns_201_with_the_hold_and_holds_the_seats_in_redis()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        using var client = app.Client("carol");

        var response = await client.PostJsonAsync($"/api/performances/{performance}/holds", new { seatIds = new[] { "A-1-1", "A-1-2" } });
        var hold = await response.ReadAsync<SeatHoldDto>(HttpStatusCode.Created);

        Assert.Equal($"/api/holds/{hold.HoldId}", response.Headers.Location?.OriginalString);
        Assert.Equal(["A-1-1", "A-1-2"], hold.SeatIds);
        Assert.InRange(hold.ExpiresAt, DateTimeOffset.UtcNow.AddMinutes(4), DateTimeOffset.UtcNow.AddMinutes(6));
        Assert.Equal($"H:{hold.HoldId:D}", (string?)await app.Redis.HashGetAsync($"perf:{{{performance}}}:seats", "A-1-1"));
        Assert.Equal("carol", (string?)await app.Redis.HashGetAsync($"perf:{{{performance}}}:hold:{hold.HoldId:D}", "user"));
    }

    [Fact]
    public async Task Hold_of_a_taken_seat_is_409_with_the_unavailable_seats_and_holds_nothing()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        using var alice = app.Client("alice");
        using var bob = app.Client("bob");
        (await alice.PostJsonAsync($"/api/performances/{performance}/holds", new { seatIds = new[] { "A-1-3" } })).EnsureSuccessStatusCode();

        var problem = await (await bob.PostJsonAsync($"/api/performances/{performance}/holds", new { seatIds = new[] { "A-1-2", "A-1-3" } }))
            .AssertProblemAsync(HttpStatusCode.Conflict, ProblemCodes.SeatsUnavailable);

        Assert.Equal(["A-1-3"], problem.GetProperty("unavailableSeatIds").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("A", (string?)await app.Redis.HashGetAsync($"perf:{{{performance}}}:seats", "A-1-2"));
    }

    [Theory]
    [InlineData("{\"seatIds\":[]}", "seatIds")]
    [InlineData("{}", "seatIds")]
    [InlineData("{\"seatIds\":[\"A-1-1\",\"A-1-1\"]}", "seatIds")]
    [InlineData("{\"seatIds\":[\"A-1-1\",\"A-1-2\",\"A-1-3\",\"A-1-4\",\"A-1-5\",\"A-2-1\",\"A-2-2\",\"A-2-3\",\"A-2-4\"]}", "seatIds")]
    [InlineData("{\"seatIds\":[\"not a seat\"]}", "seatIds")]
    [InlineData("{\"seatIds\":[\"Z-9-9\"]}", "seatIds")]
    [InlineData("{\"seatIds\":[null]}", "seatIds")]
    public async Task Bad_hold_requests_are_400_and_hold_nothing(string body, string field)
    {
        var performance = await app.CreatePerformanceAsync(("A", 2, 5));
        using var client = app.Client();

        var response = await client.PostAsync($"/api/performances/{performance}/holds", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        var problem = await response.AssertProblemAsync(HttpStatusCode.BadRequest, ProblemCodes.ValidationFailed);

        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
        var seats = await app.Redis.HashGetAllAsync($"perf:{{{performance}}}:seats");
        Assert.All(seats, seat => Assert.Equal("A", (string?)seat.Value));
    }

    [Fact]
    public async Task Hold_without_a_caller_is_401()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 2));
        using var anonymous = app.Client(userId: null);

        await (await anonymous.PostJsonAsync($"/api/performances/{performance}/holds", new { seatIds = new[] { "A-1-1" } }))
            .AssertProblemAsync(HttpStatusCode.Unauthorized, ProblemCodes.Unauthenticated);
    }
}
