using System.Text.Json;
using Booking.Api.Reservations;
using Booking.Core.Holds;
using Booking.Core.Reservations;

namespace Booking.Tests.Reservations;

public sealed class WritesMeanwhileTests(WritesMeanwhileApp app) : IClassFixture<WritesMeanwhileApp>
{
    [Fact]
    public async Task A_reservation_stored_while_a_page_is_read_leaves_the_pages_details_whole()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        var user = $"list-{Guid.NewGuid():N}";
        using var client = app.Client(user);
        var made = new List<Guid>();
        for (var seat = 1; seat <= 3; seat++)
        {
            var hold = await client.HoldSeatsAsync(performance, $"A-1-{seat}");
            made.Add((await client.ReserveAsync(hold.HoldId, new[] { new { type = "NOTE", data = (object)new { text = $"seat {seat}" } } })).Id);
        }

        // A newer reservation of the same caller, with a detail, lands between the page's query and its details' query.
        app.BeforeNextCommands("reservation_details", async () =>
        {
            var now = DateTimeOffset.UtcNow;
            await using var db = app.NewDbContext();
            db.Reservations.Add(new Reservation
            {
                Id = Guid.CreateVersion7(now),
                UserId = user,
                Domain = BookingDomain.Restaurant,
                ResourceId = "bistro",
                Slot = "2026-12-24T19:00",
                Quantity = 2,
                HoldId = Guid.NewGuid(),
                Status = ReservationStatus.Pending,
                CreatedAt = now,
                UpdatedAt = now,
                Details = [new ReservationDetail { Type = "NOTE", Data = JsonDocument.Parse("""{"text":"newer"}"""), CreatedAt = now, UpdatedAt = now }],
            });
            await db.SaveChangesAsync();
        });

        var page = await (await client.GetAsync("/api/reservations")).ReadAsync<ReservationPage>(HttpStatusCode.OK);

        Assert.Equal(Enumerable.Reverse(made), page.Items.Select(r => r.Id));
        Assert.All(page.Items, r => Assert.Single(r.Details));
    }

    [Fact]
    public async Task A_cancel_refused_because_the_reservation_kept_changing_runs_again_when_retried_with_its_key()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 1));
        using var client = app.Client($"cancel-{Guid.NewGuid():N}");
        var reservation = await client.ReserveAsync((await client.HoldSeatsAsync(performance, "A-1-1")).HoldId);
        var key = $"cancel-{Guid.NewGuid():N}";
        HttpRequestMessage Cancel() => new(HttpMethod.Post, $"/api/reservations/{reservation.Id}/cancel") { Headers = { { "Idempotency-Key", key } } };

        // Another writer (the saga, in production) changes the reservation right before each of the cancel's writes.
        app.BeforeNextCommands("UPDATE reservations", async () =>
        {
            await using var db = app.NewDbContext();
            await db.Database.ExecuteSqlInterpolatedAsync($"UPDATE reservations SET updated_at = updated_at WHERE id = {reservation.Id}");
        }, times: 3);
        await (await client.SendAsync(Cancel())).AssertProblemAsync(HttpStatusCode.Conflict, ProblemCodes.InvalidState);

        // The answer said "retry": the retry runs, instead of being told the same again for as long as keys are kept.
        using var retried = await client.SendAsync(Cancel());
        Assert.False(retried.Headers.Contains(Booking.Api.Idempotency.IdempotencyMiddleware.ReplayedHeaderName));
        Assert.Equal(ReservationStatus.Cancelling, (await retried.ReadAsync<ReservationDto>(HttpStatusCode.Accepted)).Status);
    }
}
