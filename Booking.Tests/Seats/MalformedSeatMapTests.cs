using Booking.Api.Http;
using Booking.Api.Seats;

namespace Booking.Tests.Seats;

/// <summary>The booking API with a performance service whose seat maps arrive cut off mid-way.</summary>
public sealed class CutSeatMapApp(Dependencies dependencies) : BookingApp(dependencies)
{
    protected override void ConfigureApiServices(IServiceCollection services) =>
        services.AddHttpClient<PerformanceClient>().AddHttpMessageHandler(() => new CutOff());

    private sealed class CutOff : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
            var cut = new ByteArrayContent(body[..(body.Length / 2)]);
            cut.Headers.ContentType = response.Content.Headers.ContentType;
            response.Content = cut;
            return response;
        }
    }
}

public sealed class MalformedSeatMapTests(CutSeatMapApp app) : IClassFixture<CutSeatMapApp>
{
    [Fact]
    public async Task A_seat_map_the_performance_service_sends_broken_is_503_not_the_callers_400()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 4));
        using var client = app.Client();

        await (await client.GetAsync($"/api/performances/{performance}/seats")).AssertProblemAsync(HttpStatusCode.ServiceUnavailable, ProblemCodes.DependencyUnavailable);
        await (await client.PostJsonAsync($"/api/performances/{performance}/holds", new { seatIds = new[] { "A-1-1" } }))
            .AssertProblemAsync(HttpStatusCode.ServiceUnavailable, ProblemCodes.DependencyUnavailable);
    }
}
