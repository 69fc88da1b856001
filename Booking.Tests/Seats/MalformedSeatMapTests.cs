using System.Text;
using Booking.Api.Http;
using Booking.Api.Seats;

namespace Booking.Tests.Seats;

/// <summary>The booking API with a performance service whose seat maps arrive spoiled, as each test says.</summary>
public sealed class SpoiledSeatMapApp(Dependencies dependencies) : BookingApp(dependencies)
{
    /// <summary>What becomes of a seat map's body on its way to the API.</summary>
    public Func<byte[], byte[]> Spoil { get; set; } = body => body;

    protected override void ConfigureApiServices(IServiceCollection services) =>
        services.AddHttpClient<PerformanceClient>().AddHttpMessageHandler(() => new Spoiler(this));

    private sealed class Spoiler(SpoiledSeatMapApp app) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            var spoiled = new ByteArrayContent(app.Spoil(await response.Content.ReadAsByteArrayAsync(cancellationToken)));
            spoiled.Headers.ContentType = response.Content.Headers.ContentType;
            response.Content = spoiled;
            return response;
        }
    }
}

public sealed class MalformedSeatMapTests(SpoiledSeatMapApp app) : IClassFixture<SpoiledSeatMapApp>
{
    [Fact]
    public async Task A_seat_map_cut_off_mid_way_is_503_not_the_callers_400()
    {
        app.Spoil = body => body[..(body.Length / 2)];

        await AssertUnavailableAsync();
    }

    [Fact]
    public async Task A_seat_map_of_seat_ids_that_are_not_is_503_not_a_500()
    {
        app.Spoil = _ => Encoding.UTF8.GetBytes("""{"seatIds":["A-1",null]}""");

        await AssertUnavailableAsync();
    }

    [Fact]
    public async Task An_empty_seat_map_is_503_not_a_500()
    {
        // No performance has no seats (the performance service answers 404 for one it does not know): an empty map is a
        // fault of that service, and loading it would leave Redis with no state to hold seats in.
        app.Spoil = _ => Encoding.UTF8.GetBytes("""{"seatIds":[]}""");

        await AssertUnavailableAsync();
    }

    private async Task AssertUnavailableAsync()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 4));
        using var client = app.Client();

        await (await client.GetAsync($"/api/performances/{performance}/seats")).AssertProblemAsync(HttpStatusCode.ServiceUnavailable, ProblemCodes.DependencyUnavailable);
        await (await client.PostJsonAsync($"/api/performances/{performance}/holds", new { seatIds = new[] { "A-1-1" } }))
            .AssertProblemAsync(HttpStatusCode.ServiceUnavailable, ProblemCodes.DependencyUnavailable);
    }
}
