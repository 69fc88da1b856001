using Booking.Api.Http;

namespace Booking.Tests.Reservations;

/// <summary>The API with a hold TTL short enough to watch holds expire.</summary>
public sealed class ShortHoldApp(Dependencies dependencies) : BookingApp(dependencies)
{
    protected override IEnumerable<KeyValuePair<string, string?>> Settings => [new("Booking:HoldTtl", "00:00:00.400")];
}

public sealed class HoldExpiryApiTests(ShortHoldApp app) : IClassFixture<ShortHoldApp>
{
    [Fact]
    public async Task An_expired_hold_is_409_hold_expired_and_its_seats_are_available_again()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 3));
        using var client = app.Client();
        var hold = await client.HoldSeatsAsync(performance, "A-1-1", "A-1-2");

        await Task.Delay(TimeSpan.FromMilliseconds(600));

        await (await client.PostJsonAsync("/api/reservations", new { holdId = hold.HoldId })).AssertProblemAsync(HttpStatusCode.Conflict, ProblemCodes.HoldExpired);
        await using var db = app.NewDbContext();
        Assert.False(await db.Reservations.AnyAsync(r => r.HoldId == hold.HoldId));
        using var other = app.Client("bob");
        Assert.Equal(["A-1-1", "A-1-2"], (await other.HoldSeatsAsync(performance, "A-1-1", "A-1-2")).SeatIds);
    }
}
