using System.Net;
using System.Net.Http.Json;
using Booking.PerformanceStub.Allocations;
using Booking.Tests.Infrastructure;
using Microsoft.Extensions.Hosting;

namespace Booking.Tests.Allocations;

public sealed class SectionAllocatorTests(BookingApp app) : IClassFixture<BookingApp>
{
    [Fact]
    public async Task Allocation_loops_for_made_up_section_codes_end_when_idle_and_a_real_section_still_allocates_after()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 10));
        using var service = app.StubClient(TestTokens.Bearer("booking-api", BookingAuthentication.ServiceRole));
        var allocator = app.StubService<SectionAllocator>();

        var responses = await Task.WhenAll(Enumerable.Range(0, 300).Select(i =>
            service.PostAsJsonAsync($"/performances/{performance}/sections/made-up-{i}/allocations", new { reservationId = Guid.NewGuid(), seats = 1 })));
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.NotFound, r.StatusCode));
        Assert.InRange(allocator.ActiveSections, 1, 300);

        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (allocator.ActiveSections > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{allocator.ActiveSections} section loops still alive.");
            await Task.Delay(100);
        }

        // A section whose loop retired gets a new one on its next request.
        var allocated = await service.PostAsJsonAsync($"/performances/{performance}/sections/A/allocations", new { reservationId = Guid.NewGuid(), seats = 2 });
        Assert.Equal(HttpStatusCode.OK, allocated.StatusCode);
        await Task.Delay(1500);
        var again = await service.PostAsJsonAsync($"/performances/{performance}/sections/A/allocations", new { reservationId = Guid.NewGuid(), seats = 2 });
        Assert.Equal(6, (await again.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("remaining").GetInt32());
    }
}
