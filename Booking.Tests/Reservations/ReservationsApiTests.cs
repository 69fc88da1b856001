using System.Text.Json;
using Booking.Api.Http;
using Booking.Api.Reservations;
using Booking.Core.Holds;
using Booking.Core.Outbox;
using Booking.Core.Reservations;

namespace Booking.Tests.Reservations;

public sealed class ReservationsApiTests(BookingApp app) : IClassFixture<BookingApp>
{
    [Fact]
    public async Task Reservation_from_a_hold_is_pending_with_its_saga_and_requested_event_in_one_transaction()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        using var client = app.Client("dora");
        var hold = await client.HoldSeatsAsync(performance, "A-1-1", "A-1-2");

        var response = await client.PostJsonAsync("/api/reservations", new
        {
            holdId = hold.HoldId,
            contact = new { name = "Dora", phone = "+44 20 7946 0000", email = "dora@example.com" },
        });
        var reservation = await response.ReadAsync<ReservationDto>(HttpStatusCode.Accepted);

        Assert.Equal($"/api/reservations/{reservation.Id}", response.Headers.Location?.OriginalString);
        Assert.Equal(ReservationStatus.Pending, reservation.Status);
        Assert.Equal(BookingDomain.Performance, reservation.Domain);
        Assert.Equal(performance, reservation.ResourceId);
        Assert.Equal(["A-1-1", "A-1-2"], reservation.SeatIds);
        Assert.Equal(2, reservation.Quantity);
        Assert.Equal("dora", reservation.UserId);
        Assert.Equal("Dora", reservation.Contact?.Name);

        await using var db = app.NewDbContext();
        var stored = await db.Reservations.Include(r => r.Saga).SingleAsync(r => r.Id == reservation.Id);
        Assert.Equal(hold.HoldId, stored.HoldId);
        Assert.Equal(SagaState.Started, stored.Saga!.State);
        var outbox = await db.OutboxMessages.SingleAsync(m => m.MessageKey == reservation.Id.ToString());
        Assert.Equal(BookingTopics.Requested, outbox.Topic);
        Assert.Null(outbox.SentAt);
        var @event = JsonDocument.Parse(outbox.Payload).RootElement;
        Assert.Equal(reservation.Id.ToString(), @event.GetProperty("reservationId").GetString());
        Assert.Equal(BookingTopics.Requested, @event.GetProperty("type").GetString());
        Assert.Equal("PENDING", @event.GetProperty("data").GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_callers_trace_state_longer_than_it_can_be_stored_is_cut_to_whole_members_and_the_reservation_taken()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        using var client = app.Client("dora");
        var hold = await client.HoldSeatsAsync(performance, "A-1-3");
        var members = Enumerable.Range(0, 3).Select(i => $"v{i}={new string((char)('a' + i), 250)}").ToList();

        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/reservations") { Content = JsonContent.Create(new { holdId = hold.HoldId }) };
        request.Headers.Add("traceparent", $"00-{Guid.NewGuid():N}-{Guid.NewGuid():N}"[..52] + "-01");
        request.Headers.Add("tracestate", string.Join(',', members));
        var reservation = await (await client.SendAsync(request)).ReadAsync<ReservationDto>(HttpStatusCode.Accepted);

        await using var db = app.NewDbContext();
        var requested = await db.OutboxMessages.AsNoTracking().SingleAsync(m => m.MessageKey == reservation.Id.ToString());
        Assert.Equal(string.Join(',', members.Take(2)), requested.TraceState);
    }

    [Fact]
    public async Task A_hold_turns_into_at_most_one_reservation()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        using var client = app.Client();
        var hold = await client.HoldSeatsAsync(performance, "A-1-3");
        await client.ReserveAsync(hold.HoldId);

        await (await client.PostJsonAsync("/api/reservations", new { holdId = hold.HoldId }))
            .AssertProblemAsync(HttpStatusCode.Conflict, ProblemCodes.HoldAlreadyUsed);

        await using var db = app.NewDbContext();
        Assert.Equal(1, await db.Reservations.CountAsync(r => r.HoldId == hold.HoldId));
    }

    [Fact]
    public async Task Concurrent_reservations_of_one_hold_make_exactly_one()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        using var client = app.Client();
        var hold = await client.HoldSeatsAsync(performance, "A-1-4");

        var responses = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => client.PostJsonAsync("/api/reservations", new { holdId = hold.HoldId })));

        Assert.Single(responses, r => r.StatusCode == HttpStatusCode.Accepted);
        Assert.All(responses.Where(r => r.StatusCode != HttpStatusCode.Accepted), r => Assert.Equal(HttpStatusCode.Conflict, r.StatusCode));
        await using var db = app.NewDbContext();
        Assert.Equal(1, await db.Reservations.CountAsync(r => r.HoldId == hold.HoldId));
    }

    [Fact]
    public async Task Someone_elses_hold_or_an_unknown_hold_is_404()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        using var alice = app.Client("alice");
        using var bob = app.Client("bob");
        var hold = await alice.HoldSeatsAsync(performance, "A-1-5");

        await (await bob.PostJsonAsync("/api/reservations", new { holdId = hold.HoldId })).AssertProblemAsync(HttpStatusCode.NotFound, ProblemCodes.NotFound);
        await (await bob.PostJsonAsync("/api/reservations", new { holdId = Guid.NewGuid() })).AssertProblemAsync(HttpStatusCode.NotFound, ProblemCodes.NotFound);
    }

    [Fact]
    public async Task A_released_hold_cannot_become_a_reservation()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        using var client = app.Client();
        var hold = await client.HoldSeatsAsync(performance, "A-1-1");
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"/api/holds/{hold.HoldId}")).StatusCode);

        await (await client.PostJsonAsync("/api/reservations", new { holdId = hold.HoldId })).AssertProblemAsync(HttpStatusCode.Conflict, ProblemCodes.HoldExpired);
        await using var db = app.NewDbContext();
        Assert.False(await db.Reservations.AnyAsync(r => r.HoldId == hold.HoldId));
    }

    [Fact]
    public async Task Get_shows_only_the_callers_own_reservation()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        using var alice = app.Client("alice");
        var reservation = await alice.ReserveAsync((await alice.HoldSeatsAsync(performance, "A-1-2")).HoldId);

        var read = await (await alice.GetAsync($"/api/reservations/{reservation.Id}")).ReadAsync<ReservationDto>(HttpStatusCode.OK);
        Assert.Equal(reservation.Id, read.Id);
        Assert.Equal(SagaState.Started, read.Saga?.State);

        using var bob = app.Client("bob");
        await (await bob.GetAsync($"/api/reservations/{reservation.Id}")).AssertProblemAsync(HttpStatusCode.NotFound, ProblemCodes.NotFound);
        await (await alice.GetAsync($"/api/reservations/{Guid.NewGuid()}")).AssertProblemAsync(HttpStatusCode.NotFound, ProblemCodes.NotFound);
    }

    [Fact]
    public async Task List_pages_through_the_callers_reservations_newest_first_with_filters()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 8));
        var user = $"lister-{Guid.NewGuid():N}";
        using var client = app.Client(user);
        var made = new List<ReservationDto>();
        for (var seat = 1; seat <= 5; seat++)
        {
            made.Add(await client.ReserveAsync((await client.HoldSeatsAsync(performance, $"A-1-{seat}")).HoldId));
        }

        await client.SetCapacityAsync("RESTAURANT", "bistro-" + user[^6..], "2026-12-24T19:00", 10);
        made.Add(await client.ReserveAsync((await client.HoldCapacityAsync("RESTAURANT", "bistro-" + user[^6..], "2026-12-24T19:00", 2)).HoldId));
        using var other = app.Client("someone-else");
        await other.ReserveAsync((await other.HoldSeatsAsync(performance, "A-1-8")).HoldId);

        var seen = new List<Guid>();
        string? cursor = null;
        do
        {
            var url = "/api/reservations?limit=2" + (cursor is null ? string.Empty : $"&cursor={cursor}");
            var page = await (await client.GetAsync(url)).ReadAsync<ReservationPage>(HttpStatusCode.OK);
            Assert.InRange(page.Items.Count, 1, 2);
            seen.AddRange(page.Items.Select(r => r.Id));
            cursor = page.NextCursor;
        }
        while (cursor is not null);

        Assert.Equal(made.Select(r => r.Id).Reverse(), seen);

        var restaurants = await (await client.GetAsync("/api/reservations?domain=RESTAURANT")).ReadAsync<ReservationPage>(HttpStatusCode.OK);
        Assert.Equal([made[^1].Id], restaurants.Items.Select(r => r.Id));
        var forPerformance = await (await client.GetAsync($"/api/reservations?resourceId={performance}&status=PENDING&limit=200")).ReadAsync<ReservationPage>(HttpStatusCode.OK);
        Assert.Equal(5, forPerformance.Items.Count);
        Assert.Null(forPerformance.NextCursor);
        // Another spelling of the performance's UUID is the same performance.
        var spelledOtherwise = await (await client.GetAsync($"/api/reservations?resourceId={performance.ToUpperInvariant()}&status=PENDING&limit=200")).ReadAsync<ReservationPage>(HttpStatusCode.OK);
        Assert.Equal(forPerformance.Items.Select(r => r.Id), spelledOtherwise.Items.Select(r => r.Id));
        // API.md's own form of the request: every parameter sent, the unused ones empty.
        var allSent = await (await client.GetAsync("/api/reservations?domain=&status=&resourceId=&limit=50&cursor=")).ReadAsync<ReservationPage>(HttpStatusCode.OK);
        Assert.Equal(made.Select(r => r.Id).Reverse(), allSent.Items.Select(r => r.Id));
    }

    [Fact]
    public async Task Batch_get_returns_own_reservations_and_lists_the_rest_as_missing()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        using var alice = app.Client("alice");
        using var bob = app.Client("bob");
        var mine = await alice.ReserveAsync((await alice.HoldSeatsAsync(performance, "A-1-1")).HoldId);
        var theirs = await bob.ReserveAsync((await bob.HoldSeatsAsync(performance, "A-1-2")).HoldId);
        var unknown = Guid.NewGuid();

        var batch = await (await alice.PostJsonAsync("/api/reservations/batch-get", new { ids = new[] { mine.Id, theirs.Id, unknown } }))
            .ReadAsync<ReservationBatch>(HttpStatusCode.OK);

        Assert.Equal([mine.Id], batch.Items.Select(r => r.Id));
        Assert.Equal([theirs.Id, unknown], batch.MissingIds);
        await (await alice.PostJsonAsync("/api/reservations/batch-get", new { ids = Array.Empty<Guid>() })).AssertProblemAsync(HttpStatusCode.BadRequest, ProblemCodes.ValidationFailed);
        await (await alice.PostJsonAsync("/api/reservations/batch-get", new { ids = Enumerable.Range(0, 101).Select(_ => Guid.NewGuid()) }))
            .AssertProblemAsync(HttpStatusCode.BadRequest, ProblemCodes.ValidationFailed);
    }

    [Fact]
    public async Task Cancel_asks_the_saga_to_undo_and_is_idempotent()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        using var client = app.Client();
        var reservation = await client.ReserveAsync((await client.HoldSeatsAsync(performance, "A-1-3")).HoldId);

        var first = await (await client.PostAsync($"/api/reservations/{reservation.Id}/cancel", null)).ReadAsync<ReservationDto>(HttpStatusCode.Accepted);
        var again = await (await client.PostAsync($"/api/reservations/{reservation.Id}/cancel", null)).ReadAsync<ReservationDto>(HttpStatusCode.Accepted);

        Assert.Equal(ReservationStatus.Cancelling, first.Status);
        Assert.Equal(ReservationStatus.Cancelling, again.Status);
        await using var db = app.NewDbContext();
        var saga = await db.Sagas.SingleAsync(s => s.ReservationId == reservation.Id);
        Assert.True(saga.CancelRequested);
        using var bob = app.Client("bob");
        await (await bob.PostAsync($"/api/reservations/{reservation.Id}/cancel", null)).AssertProblemAsync(HttpStatusCode.NotFound, ProblemCodes.NotFound);
    }

    [Fact]
    public async Task Cancelling_a_failed_reservation_is_409_invalid_state()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        using var client = app.Client();
        var reservation = await client.ReserveAsync((await client.HoldSeatsAsync(performance, "A-1-4")).HoldId);
        await using (var db = app.NewDbContext())
        {
            await db.Reservations.Where(r => r.Id == reservation.Id)
                .ExecuteUpdateAsync(s => s.SetProperty(r => r.Status, ReservationStatus.Failed));
        }

        await (await client.PostAsync($"/api/reservations/{reservation.Id}/cancel", null)).AssertProblemAsync(HttpStatusCode.Conflict, ProblemCodes.InvalidState);
        await using var check = app.NewDbContext();
        Assert.Equal(ReservationStatus.Failed, (await check.Reservations.SingleAsync(r => r.Id == reservation.Id)).Status);
    }

    [Fact]
    public async Task Reservations_need_a_caller()
    {
        using var anonymous = app.Client(userId: null);

        await (await anonymous.GetAsync("/api/reservations")).AssertProblemAsync(HttpStatusCode.Unauthorized, ProblemCodes.Unauthenticated);
        await (await anonymous.PostJsonAsync("/api/reservations", new { holdId = Guid.NewGuid() })).AssertProblemAsync(HttpStatusCode.Unauthorized, ProblemCodes.Unauthenticated);
    }
}
