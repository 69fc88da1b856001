using System.IO.Pipelines;
using System.Text;
using Booking.Api.Http;

namespace Booking.Tests.Http;

/// <summary>
/// Text PostgreSQL cannot store (NUL) or UTF-16 that is not text (an unpaired surrogate), in every place a caller
/// can put text: a 400 problem, never a 500, and nothing stored.
/// </summary>
public sealed class UnstorableTextTests(BookingApp app) : IClassFixture<BookingApp>
{
    public static TheoryData<string> Bad => ["\\u0000", "a\\u0000b", "\\ud800", "x\\udfffy", "\\ud800\\ud800"];

    [Fact]
    public async Task An_anonymous_callers_body_is_not_read_for_a_route_that_does_not_exist_or_for_health()
    {
        using var anonymous = app.Client(userId: null);
        const string Body = "{\"x\":\"\\u0000\"}";

        // A route that does not exist asks for a caller too (the fallback policy), before any body is read.
        using var missing = await anonymous.PostAsync("/no-such-route", new StringContent(Body, Encoding.UTF8, "application/json"));
        await missing.AssertProblemAsync(HttpStatusCode.Unauthorized, ProblemCodes.Unauthenticated);
        using var health = await anonymous.PostAsync(ServiceDefaultsExtensions.HealthEndpointPath, new StringContent(Body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        // A caller with an identity is checked wherever it sends text, a route that does not exist aside.
        using var user = app.Client();
        using var nowhere = await user.PostAsync("/no-such-route", new StringContent(Body, Encoding.UTF8, "application/json"));
        await nowhere.AssertProblemAsync(HttpStatusCode.NotFound, ProblemCodes.NotFound);
        using var refused = await user.PostAsync("/api/reservations", new StringContent(Body, Encoding.UTF8, "application/json"));
        await refused.AssertProblemAsync(HttpStatusCode.BadRequest, ProblemCodes.ValidationFailed);
    }

    [Theory]
    [MemberData(nameof(Bad))]
    public async Task In_a_reservations_contact_and_details(string bad)
    {
        var user = $"text-{Guid.NewGuid():N}";
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        using var client = app.Client(user);
        var hold = await client.HoldSeatsAsync(performance, "A-1-1");

        foreach (var body in new[]
        {
            $"{{\"holdId\":\"{hold.HoldId}\",\"contact\":{{\"name\":\"{bad}\"}}}}",
            $"{{\"holdId\":\"{hold.HoldId}\",\"details\":[{{\"type\":\"NOTE\",\"data\":{{\"text\":\"{bad}\"}}}}]}}",
            $"{{\"holdId\":\"{hold.HoldId}\",\"details\":[{{\"type\":\"NOTE\",\"data\":{{\"text\":\"ok\",\"{bad}\":1}}}}]}}",
            $"{{\"holdId\":\"{hold.HoldId}\",\"details\":[{{\"type\":\"SEAT\",\"data\":{{\"seatId\":\"A-1-1\",\"holderName\":\"{bad}\"}}}}]}}",
        })
        {
            using var response = await client.PostAsync("/api/reservations", new StringContent(body, Encoding.UTF8, "application/json"));
            await response.AssertProblemAsync(HttpStatusCode.BadRequest, ProblemCodes.ValidationFailed);
        }

        await using var db = app.NewDbContext();
        Assert.False(await db.Reservations.AnyAsync(r => r.UserId == user));
    }

    [Fact]
    public async Task In_a_body_sent_without_a_declared_length_and_such_a_body_still_reaches_the_endpoint_when_fine()
    {
        var user = $"text-{Guid.NewGuid():N}";
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        using var client = app.Client(user);
        var hold = await client.HoldSeatsAsync(performance, "A-1-1");

        using var refused = await client.PostAsync("/api/reservations", await UnsizedJsonAsync($"{{\"holdId\":\"{hold.HoldId}\",\"contact\":{{\"name\":\"a\\u0000b\"}}}}"));
        await refused.AssertProblemAsync(HttpStatusCode.BadRequest, ProblemCodes.ValidationFailed);
        using var accepted = await client.PostAsync("/api/reservations", await UnsizedJsonAsync($"{{\"holdId\":\"{hold.HoldId}\",\"contact\":{{\"name\":\"Ann\"}}}}"));
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
    }

    [Theory]
    [MemberData(nameof(Bad))]
    public async Task In_a_body_that_starts_with_a_byte_order_mark(string bad)
    {
        var user = $"text-{Guid.NewGuid():N}";
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        using var client = app.Client(user);
        var hold = await client.HoldSeatsAsync(performance, "A-1-1");
        var reservation = await client.ReserveAsync((await client.HoldSeatsAsync(performance, "A-1-2")).HoldId);

        using var refused = await client.PostAsync("/api/reservations", WithByteOrderMark($"{{\"holdId\":\"{hold.HoldId}\",\"contact\":{{\"name\":\"{bad}\"}}}}"));
        await refused.AssertProblemAsync(HttpStatusCode.BadRequest, ProblemCodes.ValidationFailed);
        using var detail = await client.PostAsync($"/api/reservations/{reservation.Id}/details", WithByteOrderMark($"{{\"type\":\"NOTE\",\"data\":{{\"text\":\"{bad}\"}}}}"));
        await detail.AssertProblemAsync(HttpStatusCode.BadRequest, ProblemCodes.ValidationFailed);

        using var accepted = await client.PostAsync("/api/reservations", WithByteOrderMark($"{{\"holdId\":\"{hold.HoldId}\",\"contact\":{{\"name\":\"Ann\"}}}}"));
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
    }

    [Fact]
    public async Task A_json_body_in_another_charset_than_utf_8_is_415()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        using var client = app.Client($"text-{Guid.NewGuid():N}");
        var hold = await client.HoldSeatsAsync(performance, "A-1-1");

        using var response = await client.PostAsync("/api/reservations",
            new StringContent($"{{\"holdId\":\"{hold.HoldId}\",\"contact\":{{\"name\":\"\\ud800\"}}}}", Encoding.Unicode, "application/json"));

        await response.AssertProblemAsync(HttpStatusCode.UnsupportedMediaType, ProblemCodes.ValidationFailed);
    }

    [Theory]
    [InlineData("application/json; charset=utf-8", HttpStatusCode.Accepted)]
    [InlineData("application/json;charset=UTF-8", HttpStatusCode.Accepted)]
    [InlineData("application/json; charset=\"utf-8\"", HttpStatusCode.UnsupportedMediaType)]
    [InlineData("application/json; charset=utf8", HttpStatusCode.UnsupportedMediaType)]
    public async Task A_json_body_is_taken_declared_utf_8_as_the_endpoints_read_it_and_otherwise_refused_never_a_500(string contentType, HttpStatusCode expected)
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        using var client = app.Client($"text-{Guid.NewGuid():N}");
        var hold = await client.HoldSeatsAsync(performance, "A-1-1");
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes($"{{\"holdId\":\"{hold.HoldId}\"}}"));
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);

        using var response = await client.PostAsync("/api/reservations", content);

        Assert.Equal(expected, response.StatusCode);
    }

    private static ByteArrayContent WithByteOrderMark(string json)
    {
        var content = new ByteArrayContent([.. Encoding.UTF8.Preamble, .. Encoding.UTF8.GetBytes(json)]);
        content.Headers.ContentType = new("application/json");
        return content;
    }

    /// <summary>A JSON body whose length is not known up front (a stream that cannot seek), as a chunked request sends it.</summary>
    private static async Task<HttpContent> UnsizedJsonAsync(string json)
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(Encoding.UTF8.GetBytes(json));
        await pipe.Writer.CompleteAsync();
        var content = new StreamContent(pipe.Reader.AsStream());
        content.Headers.ContentType = new("application/json");
        Assert.Null(content.Headers.ContentLength);
        return content;
    }

    [Theory]
    [MemberData(nameof(Bad))]
    public async Task In_a_detail_added_later_and_in_query_values(string bad)
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        using var client = app.Client($"text-{Guid.NewGuid():N}");
        var reservation = await client.ReserveAsync((await client.HoldSeatsAsync(performance, "A-1-1")).HoldId);

        using var detail = await client.PostAsync($"/api/reservations/{reservation.Id}/details",
            new StringContent($"{{\"type\":\"NOTE\",\"data\":{{\"text\":\"{bad}\"}}}}", Encoding.UTF8, "application/json"));
        await detail.AssertProblemAsync(HttpStatusCode.BadRequest, ProblemCodes.ValidationFailed);

        var raw = bad.Contains("0000", StringComparison.Ordinal) ? "%00" : "%ED%A0%80";
        using var list = await client.GetAsync($"/api/reservations?resourceId=x{raw}y");
        Assert.True((int)list.StatusCode is >= 400 and < 500, $"{list.StatusCode}");
        await using var db = app.NewDbContext();
        Assert.Empty(await db.ReservationDetails.Where(d => d.ReservationId == reservation.Id).ToListAsync());
    }

    [Theory]
    [MemberData(nameof(Bad))]
    public async Task In_a_performance_created_in_the_performance_service(string bad)
    {
        using var stub = app.StubClient();
        var title = $"text-{Guid.NewGuid():N}";
        foreach (var body in new[]
        {
            $"{{\"title\":\"{bad}\",\"startsAt\":\"2027-01-01T00:00:00Z\",\"sections\":[{{\"code\":\"A\",\"rows\":1,\"seatsPerRow\":1}}]}}",
            $"{{\"title\":\"{title}\",\"startsAt\":\"2027-01-01T00:00:00Z\",\"sections\":[{{\"code\":\"{bad}\",\"rows\":1,\"seatsPerRow\":1}}]}}",
        })
        {
            using var response = await stub.PostAsync("/performances", new StringContent(body, Encoding.UTF8, "application/json"));
            await response.AssertProblemAsync(HttpStatusCode.BadRequest, ProblemCodes.ValidationFailed);
        }
    }
}
