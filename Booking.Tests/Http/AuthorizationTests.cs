using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Booking.Api.Http;
using Booking.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Hosting;

namespace Booking.Tests.Http;

/// <summary>
/// Every endpoint of API.md and of the performance service, asked without a token, with a forged one, with an
/// expired one, and without the role it needs; and each user's resources asked for by another user.
/// </summary>
public sealed class AuthorizationTests(BookingApp app) : IClassFixture<BookingApp>
{
    private const string Id = "0198a3c0-0000-7000-8000-000000000001";

    public static TheoryData<string, string> ApiEndpoints => new()
    {
        { "GET", $"/api/performances/{Id}/seats" },
        { "POST", $"/api/performances/{Id}/holds" },
        { "PUT", "/api/capacity/EXHIBITION/gallery/2026-12-01" },
        { "GET", "/api/capacity/EXHIBITION/gallery/2026-12-01" },
        { "POST", "/api/capacity/EXHIBITION/gallery/2026-12-01/holds" },
        { "DELETE", $"/api/holds/{Id}" },
        { "POST", "/api/reservations" },
        { "GET", $"/api/reservations/{Id}" },
        { "GET", "/api/reservations" },
        { "POST", "/api/reservations/batch-get" },
        { "POST", $"/api/reservations/{Id}/cancel" },
        { "GET", $"/api/reservations/{Id}/details" },
        { "POST", $"/api/reservations/{Id}/details" },
        { "GET", $"/api/reservations/{Id}/details/{Id}" },
        { "PUT", $"/api/reservations/{Id}/details/{Id}" },
        { "DELETE", $"/api/reservations/{Id}/details/{Id}" },
        { "POST", "/api/reservation-details/batch-get" },
    };

    public static TheoryData<string, string> StubEndpoints => new()
    {
        { "POST", "/performances" },
        { "GET", $"/performances/{Id}" },
        { "GET", $"/performances/{Id}/seatmap" },
        { "POST", $"/performances/{Id}/sections/A/allocations" },
        { "DELETE", $"/performances/{Id}/sections/A/allocations/{Id}" },
        { "POST", "/allocations/batch" },
        { "POST", "/_chaos" },
    };

    [Fact]
    public void Every_endpoint_of_both_services_asks_for_a_caller_but_health_and_the_api_reference()
    {
        // What may answer anyone: up/down, and the API's own description (no data). Matched by whole path segments.
        string[] open = ["/health", "/alive", "/openapi", "/scalar"];
        var endpoints = app.Service<Microsoft.AspNetCore.Routing.EndpointDataSource>().Endpoints
            .Concat(app.StubService<Microsoft.AspNetCore.Routing.EndpointDataSource>().Endpoints)
            .OfType<Microsoft.AspNetCore.Routing.RouteEndpoint>()
            .ToList();

        Assert.NotEmpty(endpoints);
        var unguarded = endpoints
            .Where(e => e.Metadata.GetMetadata<Microsoft.AspNetCore.Authorization.IAllowAnonymous>() is not null
                || (e.Metadata.GetMetadata<Microsoft.AspNetCore.Authorization.IAuthorizeData>() is null
                    && e.Metadata.GetMetadata<Microsoft.AspNetCore.Authorization.AuthorizationPolicy>() is null))
            .Select(e => "/" + e.RoutePattern.RawText!.TrimStart('/'))
            .Where(route => !open.Any(path => route == path || route.StartsWith(path + "/", StringComparison.Ordinal)))
            .ToList();
        Assert.True(unguarded.Count == 0, $"Endpoints anyone may call: {string.Join(", ", unguarded)}");
    }

    [Fact]
    public async Task An_endpoint_mapped_without_a_policy_still_needs_a_caller_and_so_does_a_path_that_matches_none()
    {
        var ct = TestContext.Current.CancellationToken;
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Configuration[BookingAuthentication.SigningKeySetting] = TestTokens.SigningKey;
        builder.AddDefaultHealthChecks();
        builder.AddBookingAuthentication();
        ProblemExceptionHandler.AddBookingProblemDetails(builder.Services);
        await using var service = builder.Build();
        service.UseRequestChecks();
        service.MapDefaultEndpoints();
        // What a new endpoint looks like when its author forgets RequireAuthorization.
        service.MapGet("/forgotten", () => "someone's data");
        await service.StartAsync(ct);
        using var anyone = service.GetTestClient();
        using var caller = service.GetTestClient();
        caller.DefaultRequestHeaders.Authorization = TestTokens.Bearer("alice");

        using (var response = await anyone.GetAsync(new Uri("/forgotten", UriKind.Relative), ct))
        {
            await response.AssertProblemAsync(HttpStatusCode.Unauthorized, ProblemCodes.Unauthenticated);
        }

        using (var response = await anyone.GetAsync(new Uri("/nothing/here", UriKind.Relative), ct))
        {
            await response.AssertProblemAsync(HttpStatusCode.Unauthorized, ProblemCodes.Unauthenticated);
        }

        Assert.Equal("someone's data", await caller.GetStringAsync(new Uri("/forgotten", UriKind.Relative), ct));
        using (var response = await anyone.GetAsync(new Uri("/health", UriKind.Relative), ct))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Fact]
    public async Task Health_and_the_api_reference_with_everything_its_page_loads_answer_anyone()
    {
        var ct = TestContext.Current.CancellationToken;
        foreach (var (service, anyone) in new[] { ("booking-api", app.Client(userId: null)), ("performance-stub", app.StubClient(authorization: null)) })
        {
            using (anyone)
            {
                using var pageResponse = await anyone.GetAsync(new Uri("/scalar", UriKind.Relative), ct);
                Assert.True(pageResponse.StatusCode == HttpStatusCode.OK, $"{service} /scalar: {(int)pageResponse.StatusCode}");
                var page = await pageResponse.Content.ReadAsStringAsync(ct);
                // As a browser reads them: relative to where the page ended up.
                var pageAddress = pageResponse.RequestMessage!.RequestUri!;
                var loaded = Regex.Matches(page, "src=\"([^\"]+)\"").Select(match => match.Groups[1].Value).ToList();
                Assert.True(loaded.Count > 0, $"{service}'s API reference page loads no script:\n{page}");
                foreach (var path in loaded.Concat(["/openapi/v1.json", "/health", "/alive"]))
                {
                    using var response = await anyone.GetAsync(new Uri(pageAddress, path), ct);
                    Assert.True(response.StatusCode == HttpStatusCode.OK, $"{service} {path}: {(int)response.StatusCode}");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(ApiEndpoints))]
    public async Task Booking_api_endpoints_refuse_a_missing_forged_or_expired_token_with_401(string method, string path)
    {
        foreach (var (what, authorization) in BadCredentials())
        {
            using var client = app.Client(userId: null);
            client.DefaultRequestHeaders.Authorization = authorization;
            // A gateway's header is no identity unless the service is configured to trust a gateway.
            client.DefaultRequestHeaders.Add(CallerIdentity.HeaderName, "mallory");
            using var response = await client.SendAsync(Request(method, path));
            var problem = await response.AssertProblemAsync(HttpStatusCode.Unauthorized, ProblemCodes.Unauthenticated);
            Assert.True(problem.GetProperty("status").GetInt32() == 401, what);
        }
    }

    [Theory]
    [MemberData(nameof(StubEndpoints))]
    public async Task Performance_service_endpoints_refuse_a_missing_forged_or_expired_token_with_401(string method, string path)
    {
        foreach (var (_, authorization) in BadCredentials())
        {
            using var stub = app.StubClient(authorization);
            using var response = await stub.SendAsync(Request(method, path));
            await response.AssertProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHENTICATED");
        }
    }

    [Theory]
    [InlineData("PUT", "/api/capacity/EXHIBITION/gallery/2026-12-01")]
    public async Task A_user_without_the_admin_role_gets_403_from_admin_endpoints(string method, string path)
    {
        using var client = app.Client("plain-user");
        using var response = await client.SendAsync(Request(method, path));
        await response.AssertProblemAsync(HttpStatusCode.Forbidden, ProblemCodes.Forbidden);
    }

    [Theory]
    [InlineData("POST", "/performances", "user")]
    [InlineData("POST", "/_chaos", "user")]
    [InlineData("POST", $"/performances/{Id}/sections/A/allocations", "user")]
    [InlineData("DELETE", $"/performances/{Id}/sections/A/allocations/{Id}", "user")]
    [InlineData("POST", "/allocations/batch", "user")]
    [InlineData("POST", "/allocations/batch", "admin")]
    [InlineData("POST", $"/performances/{Id}/sections/A/allocations", "admin")]
    [InlineData("DELETE", $"/performances/{Id}/sections/A/allocations/{Id}", "admin")]
    public async Task The_performance_service_gives_403_without_the_needed_role(string method, string path, string caller)
    {
        using var stub = app.StubClient(caller == "admin" ? TestTokens.Admin : TestTokens.Bearer("plain-user"));
        using var response = await stub.SendAsync(Request(method, path));
        await response.AssertProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
    }

    [Theory]
    [InlineData("POST", $"/performances/{Id}/sections/A/allocations")]
    [InlineData("DELETE", $"/performances/{Id}/sections/A/allocations/{Id}")]
    [InlineData("POST", "/allocations/batch")]
    public async Task A_developer_token_with_the_service_role_is_not_the_booking_service(string method, string path)
    {
        // Valid in Development (user-jwts' issuer, a key the service trusts), but not one the platform signed.
        var token = new Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler().CreateToken(new Microsoft.IdentityModel.Tokens.SecurityTokenDescriptor
        {
            Issuer = "dotnet-user-jwts",
            Audience = BookingAuthentication.Audience,
            Claims = new Dictionary<string, object>(StringComparer.Ordinal)
            {
                [BookingAuthentication.SubjectClaim] = "developer",
                [BookingAuthentication.RoleClaim] = BookingAuthentication.ServiceRole,
            },
            Expires = DateTime.UtcNow.AddHours(1),
            SigningCredentials = new Microsoft.IdentityModel.Tokens.SigningCredentials(
                BookingAuthentication.SigningKey(TestTokens.SigningKey), Microsoft.IdentityModel.Tokens.SecurityAlgorithms.HmacSha256),
        });
        using var stub = app.StubClient(new AuthenticationHeaderValue("Bearer", token));
        using var response = await stub.SendAsync(Request(method, path));
        await response.AssertProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
    }

    [Fact]
    public async Task Another_users_holds_reservations_and_details_answer_404()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        using var alice = app.Client($"alice-{Guid.NewGuid():N}");
        using var bob = app.Client($"bob-{Guid.NewGuid():N}");
        var reservation = await alice.ReserveAsync((await alice.HoldSeatsAsync(performance, "A-1-1")).HoldId);
        var otherHold = await alice.HoldSeatsAsync(performance, "A-1-2");
        var detail = await (await alice.PostJsonAsync($"/api/reservations/{reservation.Id}/details", new { type = "NOTE", data = new { text = "aisle" } }))
            .ReadAsync<System.Text.Json.JsonElement>(HttpStatusCode.Created);
        var detailId = detail.GetProperty("id").GetString();

        foreach (var (method, path) in new[]
        {
            ("GET", $"/api/reservations/{reservation.Id}"),
            ("POST", $"/api/reservations/{reservation.Id}/cancel"),
            ("GET", $"/api/reservations/{reservation.Id}/details"),
            ("GET", $"/api/reservations/{reservation.Id}/details/{detailId}"),
            ("DELETE", $"/api/reservations/{reservation.Id}/details/{detailId}"),
            ("DELETE", $"/api/holds/{otherHold.HoldId}"),
        })
        {
            using var response = await bob.SendAsync(Request(method, path));
            await response.AssertProblemAsync(HttpStatusCode.NotFound, ProblemCodes.NotFound);
        }

        // Nothing of alice's changed.
        Assert.Equal(Booking.Core.Data.ReservationStatus.Pending, (await (await alice.GetAsync($"/api/reservations/{reservation.Id}")).ReadAsync<Booking.Core.Reservations.ReservationDto>(HttpStatusCode.OK)).Status);
        await (await alice.GetAsync($"/api/reservations/{reservation.Id}/details/{detailId}")).ReadAsync<System.Text.Json.JsonElement>(HttpStatusCode.OK);
        using var reuse = await alice.PostJsonAsync("/api/reservations", new { holdId = otherHold.HoldId });
        Assert.Equal(HttpStatusCode.Accepted, reuse.StatusCode);
    }

    [Fact]
    public async Task Holds_past_the_per_user_rate_are_429_with_retry_after_and_other_users_are_not_affected()
    {
        var options = app.Service<Microsoft.Extensions.Options.IOptions<BookingOptions>>().Value;
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        using var greedy = app.Client($"greedy-{Guid.NewGuid():N}");
        // All at once, far over the burst (seat taken after the first: 409s still spend the caller's rate).
        var responses = await Task.WhenAll(Enumerable.Range(0, (options.HoldBurstPerUser + options.HoldsPerSecondPerUser) * 4)
            .Select(_ => greedy.PostJsonAsync($"/api/performances/{performance}/holds", new { seatIds = new[] { "A-1-1" } })));
        var statuses = responses.Select(r => r.StatusCode).ToList();
        var limited = responses.FirstOrDefault(r => r.StatusCode == HttpStatusCode.TooManyRequests);

        Assert.NotNull(limited);
        await limited.AssertProblemAsync(HttpStatusCode.TooManyRequests, ProblemCodes.RateLimited);
        Assert.True(int.Parse(limited.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture) >= 1);
        Assert.True(statuses.Count(s => s != HttpStatusCode.TooManyRequests) >= options.HoldBurstPerUser, string.Join(",", statuses));
        using var patient = app.Client($"patient-{Guid.NewGuid():N}");
        await patient.HoldSeatsAsync(performance, "A-1-2");
    }

    private static IEnumerable<(string What, AuthenticationHeaderValue? Authorization)> BadCredentials()
    {
        var otherKey = Microsoft.Extensions.Hosting.BookingAuthentication.SigningKey(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
        yield return ("no token", null);
        yield return ("not a JWT", new AuthenticationHeaderValue("Bearer", "not-a-token"));
        yield return ("forged (another key)", new AuthenticationHeaderValue("Bearer",
            BookingAuthentication.CreateToken(otherKey, "mallory", [BookingAuthentication.AdminRole, BookingAuthentication.ServiceRole], DateTimeOffset.UtcNow, TimeSpan.FromHours(1))));
        yield return ("expired", new AuthenticationHeaderValue("Bearer",
            BookingAuthentication.CreateToken(BookingAuthentication.SigningKey(TestTokens.SigningKey), "alice", [BookingAuthentication.AdminRole], DateTimeOffset.UtcNow.AddHours(-2), TimeSpan.FromHours(1))));
    }

    private static HttpRequestMessage Request(string method, string path) => new(new HttpMethod(method), path)
    {
        Content = method is "POST" or "PUT" ? JsonContent.Create(new { }) : null,
    };
}
