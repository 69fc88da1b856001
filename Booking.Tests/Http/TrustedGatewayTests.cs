using Booking.Api.Http;

namespace Booking.Tests.Http;

/// <summary>The booking API explicitly configured as sitting behind a trusted gateway.</summary>
public sealed class TrustedGatewayApp(Dependencies dependencies) : BookingApp(dependencies)
{
    protected override IEnumerable<KeyValuePair<string, string?>> Settings => [new(CallerIdentity.TrustedGatewaySetting, "true")];
}

public sealed class TrustedGatewayTests(TrustedGatewayApp app) : IClassFixture<TrustedGatewayApp>
{
    [Fact]
    public async Task Behind_a_trusted_gateway_the_gateways_user_header_names_the_caller_and_tokens_still_work()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        using var gateway = app.Client(userId: null);
        gateway.DefaultRequestHeaders.Add(CallerIdentity.HeaderName, "gateway-user");

        var hold = await gateway.HoldSeatsAsync(performance, "A-1-1");
        var reservation = await gateway.ReserveAsync(hold.HoldId);

        // The same user with a token sees it; another user does not.
        using var sameUser = app.Client("gateway-user");
        Assert.Equal(HttpStatusCode.OK, (await sameUser.GetAsync($"/api/reservations/{reservation.Id}")).StatusCode);
        using var other = app.Client("someone-else");
        await (await other.GetAsync($"/api/reservations/{reservation.Id}")).AssertProblemAsync(HttpStatusCode.NotFound, ProblemCodes.NotFound);
        using var nobody = app.Client(userId: null);
        await (await nobody.GetAsync("/api/reservations")).AssertProblemAsync(HttpStatusCode.Unauthorized, ProblemCodes.Unauthenticated);
    }

    [Fact]
    public async Task The_gateways_caller_is_a_caller_wherever_a_bearers_is_so_a_path_that_matches_none_is_404()
    {
        using var gateway = app.Client(userId: null);
        gateway.DefaultRequestHeaders.Add(CallerIdentity.HeaderName, "gateway-user");
        await (await gateway.GetAsync("/api/no-such-route")).AssertProblemAsync(HttpStatusCode.NotFound, ProblemCodes.NotFound);
        using var nobody = app.Client(userId: null);
        await (await nobody.GetAsync("/api/no-such-route")).AssertProblemAsync(HttpStatusCode.Unauthorized, ProblemCodes.Unauthenticated);
    }

    [Fact]
    public async Task A_bad_token_is_a_401_even_with_the_gateways_user_header()
    {
        using var client = app.Client(userId: null);
        client.DefaultRequestHeaders.Add(CallerIdentity.HeaderName, "gateway-user");
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "not-a-token");
        await (await client.GetAsync("/api/reservations")).AssertProblemAsync(HttpStatusCode.Unauthorized, ProblemCodes.Unauthenticated);
    }
}
