using System.Text;
using Booking.Api.Http;
using Microsoft.Extensions.Hosting;

namespace Booking.Tests.Http;

/// <summary>Bad input never yields a 500 and never changes state: always 4xx problem details with a code.</summary>
public sealed class BadInputTests(BookingApp app) : IClassFixture<BookingApp>
{
    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    [Theory]
    [InlineData("{\"seatIds\":[")]
    [InlineData("{\"seatIds\":5}")]
    [InlineData("{\"seatIds\":[1,2]}")]
    [InlineData("{\"seatIds\":[\"A-1-1\\n\"]}")]
    [InlineData("[]")]
    [InlineData("")]
    [InlineData("null")]
    public async Task Unreadable_hold_bodies_are_400_and_hold_nothing(string body)
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 3));
        using var client = app.Client("alice", BookingAuthentication.AdminRole);
        await client.GetAsync($"/api/performances/{performance}/seats");

        await (await client.PostAsync($"/api/performances/{performance}/holds", Json(body))).AssertProblemAsync(HttpStatusCode.BadRequest, ProblemCodes.ValidationFailed);

        Assert.All(await app.Redis.HashGetAllAsync($"perf:{{{performance}}}:seats"), seat => Assert.Equal("A", (string?)seat.Value));
    }

    [Theory]
    [InlineData("POST", "/api/capacity/EXHIBITION/{r}/2026-12-01/holds", "{\"quantity\":\"many\"}")]
    [InlineData("POST", "/api/capacity/EXHIBITION/{r}/2026-12-01/holds", "{\"quantity\":0}")]
    [InlineData("POST", "/api/capacity/EXHIBITION/{r}/2026-12-01/holds", "{\"quantity\":1.5}")]
    [InlineData("PUT", "/api/capacity/EXHIBITION/{r}/2026-12-01", "{\"capacity\":true}")]
    [InlineData("PUT", "/api/capacity/EXHIBITION/{r}/2026-12-01", "{\"capacity\":-1}")]
    [InlineData("PUT", "/api/capacity/CINEMA/{r}/2026-12-01", "{\"capacity\":5}")]
    [InlineData("PUT", "/api/capacity/EXHIBITION/{r}/2026-13-45", "{\"capacity\":5}")]
    [InlineData("PUT", "/api/capacity/EXHIBITION/bad%20id/2026-12-01", "{\"capacity\":5}")]
    [InlineData("PUT", "/api/capacity/EXHIBITION/{r}%0A/2026-12-01", "{\"capacity\":5}")]
    [InlineData("PUT", "/api/capacity/EXHIBITION,RESTAURANT/{r}/2026-12-01", "{\"capacity\":5}")]
    [InlineData("POST", "/api/reservations", "{\"holdId\":\"not-a-guid\"}")]
    [InlineData("POST", "/api/reservations", "{\"holdId\":42}")]
    [InlineData("POST", "/api/reservations", "{}")]
    [InlineData("POST", "/api/reservations", "{\"holdId\":\"01a20f42-9d5c-7f2c-8294-78b288f5b80d\",\"contact\":{\"email\":\"nope\"}}")]
    [InlineData("POST", "/api/reservations/batch-get", "{\"ids\":[\"x\"]}")]
    [InlineData("POST", "/api/reservations/batch-get", "{\"ids\":\"all\"}")]
    [InlineData("POST", "/api/reservation-details/batch-get", "{\"ids\":[]}")]
    public async Task Wrong_types_and_values_are_400_problems(string method, string path, string body)
    {
        using var client = app.Client($"bad-{Guid.NewGuid():N}", BookingAuthentication.AdminRole);
        var resource = $"bad-{Guid.NewGuid():N}"[..20];

        var response = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path.Replace("{r}", resource, StringComparison.Ordinal)) { Content = Json(body) });

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, ProblemCodes.ValidationFailed);
        await using var db = app.NewDbContext();
        Assert.False(await db.CapacitySlots.AnyAsync(s => s.ResourceId == resource));
    }

    [Theory]
    [InlineData("/api/reservations?status=DONE")]
    [InlineData("/api/reservations?domain=CINEMA")]
    [InlineData("/api/reservations?status=1")]
    [InlineData("/api/reservations?limit=0")]
    [InlineData("/api/reservations?limit=201")]
    [InlineData("/api/reservations?limit=abc")]
    [InlineData("/api/reservations?cursor=garbage")]
    [InlineData("/api/performances/x/seats?status=SOLD")]
    [InlineData("/api/performances/x/seats?status=AVAILABLE,HELD")]
    [InlineData("/api/reservations?status=PENDING,CONFIRMED")]
    [InlineData("/api/reservations?status=CANCELLED,FAILED")]
    public async Task Unknown_enum_values_and_bad_query_values_are_400(string url)
    {
        using var client = app.Client();

        await (await client.GetAsync(url)).AssertProblemAsync(HttpStatusCode.BadRequest, ProblemCodes.ValidationFailed);
    }

    [Theory]
    [InlineData("GET", "/api/reservations/abc")]
    [InlineData("DELETE", "/api/holds/abc")]
    [InlineData("POST", "/api/reservations/abc/cancel")]
    [InlineData("GET", "/api/nothing-here")]
    public async Task Unknown_routes_and_malformed_ids_are_404_problems(string method, string url)
    {
        using var client = app.Client();

        await (await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), url))).AssertProblemAsync(HttpStatusCode.NotFound, ProblemCodes.NotFound);
    }

    [Fact]
    public async Task A_body_over_1_MiB_is_413_and_changes_nothing()
    {
        using var client = app.Client("huge");
        var huge = "{\"holdId\":\"01a20f42-9d5c-7f2c-8294-78b288f5b80d\",\"contact\":{\"name\":\"" + new string('x', 1_100_000) + "\"}}";

        await (await client.PostAsync("/api/reservations", Json(huge))).AssertProblemAsync(HttpStatusCode.RequestEntityTooLarge, ProblemCodes.ValidationFailed);

        await using var db = app.NewDbContext();
        Assert.False(await db.Reservations.AnyAsync(r => r.UserId == "huge"));
    }

    [Fact]
    public async Task The_performance_service_also_refuses_a_body_over_1_MiB_with_413_before_reading_it()
    {
        using var stub = app.StubClient();
        var huge = "{\"title\":\"" + new string('x', 1_100_000) + "\",\"startsAt\":\"2026-12-01T19:00:00Z\",\"sections\":[]}";

        await (await stub.PostAsync("/performances", Json(huge))).AssertProblemAsync(HttpStatusCode.RequestEntityTooLarge, ProblemCodes.ValidationFailed);
    }

    /// <summary>
    /// A caller that names only other media types still gets the problem as JSON: the API has no other form, and a
    /// problem it cannot send must not turn into a bare 500 (middleware, endpoints and the exception handler alike).
    /// </summary>
    [Theory]
    [InlineData("GET", "/api/nothing-here", null, HttpStatusCode.NotFound, ProblemCodes.NotFound)]
    [InlineData("POST", "/api/reservations", "holdId=1", HttpStatusCode.UnsupportedMediaType, ProblemCodes.ValidationFailed)]
    [InlineData("POST", "/api/reservations", "{\"holdId\":", HttpStatusCode.BadRequest, ProblemCodes.ValidationFailed)]
    [InlineData("GET", "/api/reservations?limit=0", null, HttpStatusCode.BadRequest, ProblemCodes.ValidationFailed)]
    [InlineData("POST", "/api/reservations/01a20f42-9d5c-7f2c-8294-78b288f5b80d/cancel", null, HttpStatusCode.BadRequest, ProblemCodes.ValidationFailed, 256)]
    public async Task A_caller_accepting_only_html_gets_its_problem_as_json(
        string method, string url, string? body, HttpStatusCode status, string code, int idempotencyKeyLength = 0)
    {
        using var client = app.Client();
        using var request = new HttpRequestMessage(new HttpMethod(method), url);
        request.Headers.Accept.ParseAdd("text/html");
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, body.StartsWith('{') ? "application/json" : "text/plain");
        }

        if (idempotencyKeyLength > 0)
        {
            request.Headers.Add("Idempotency-Key", new string('k', idempotencyKeyLength));
        }

        await (await client.SendAsync(request)).AssertProblemAsync(status, code);
    }

    [Fact]
    public async Task A_non_json_content_type_is_415()
    {
        using var client = app.Client();

        await (await client.PostAsync("/api/reservations", new StringContent("holdId=1", Encoding.UTF8, "text/plain")))
            .AssertProblemAsync(HttpStatusCode.UnsupportedMediaType, ProblemCodes.ValidationFailed);
    }
}
