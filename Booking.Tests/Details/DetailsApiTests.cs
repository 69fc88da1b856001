using System.Text.Json;
using Booking.Api.Details;
using Booking.Api.Http;
using Booking.Api.Reservations;
using Booking.Core.Reservations;

namespace Booking.Tests.Details;

public sealed class DetailsApiTests(BookingApp app) : IClassFixture<BookingApp>
{
    private async Task<(HttpClient Client, ReservationDto Reservation)> PerformanceReservationAsync(string user = "alice")
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        var client = app.Client(user);
        return (client, await client.ReserveAsync((await client.HoldSeatsAsync(performance, "A-1-1", "A-1-2")).HoldId));
    }

    [Fact]
    public async Task Details_are_created_read_replaced_and_deleted_and_stored_as_jsonb()
    {
        var (client, reservation) = await PerformanceReservationAsync();
        var url = $"/api/reservations/{reservation.Id}/details";

        var created = await client.PostJsonAsync(url, new { type = "SEAT", data = new { seatId = "A-1-2", holderName = "Ada", meal = new[] { "veg" } } });
        var detail = await created.ReadAsync<DetailDto>(HttpStatusCode.Created);
        Assert.Equal($"{url}/{detail.Id}", created.Headers.Location?.OriginalString);
        Assert.Equal("Ada", detail.Data.GetProperty("holderName").GetString());

        await using (var db = app.NewDbContext())
        {
            var stored = await db.ReservationDetails.AsNoTracking().SingleAsync(d => d.Id == detail.Id);
            Assert.Equal("veg", stored.Data.RootElement.GetProperty("meal")[0].GetString());
            var columnType = await db.Database.SqlQuery<string>($"SELECT data_type AS \"Value\" FROM information_schema.columns WHERE table_name = 'reservation_details' AND column_name = 'data'").SingleAsync();
            Assert.Equal("jsonb", columnType);
        }

        Assert.Single(await (await client.GetAsync(url)).ReadAsync<List<DetailDto>>(HttpStatusCode.OK));
        Assert.Equal(detail.Id, (await (await client.GetAsync($"{url}/{detail.Id}")).ReadAsync<DetailDto>(HttpStatusCode.OK)).Id);

        var replaced = await (await client.PutAsJsonAsync($"{url}/{detail.Id}", new { type = "NOTE", data = new { text = "aisle please" } }))
            .ReadAsync<DetailDto>(HttpStatusCode.OK);
        Assert.Equal("NOTE", replaced.Type);
        Assert.True(replaced.UpdatedAt > detail.UpdatedAt);

        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"{url}/{detail.Id}")).StatusCode);
        await (await client.GetAsync($"{url}/{detail.Id}")).AssertProblemAsync(HttpStatusCode.NotFound, ProblemCodes.NotFound);
        Assert.Empty(await (await client.GetAsync(url)).ReadAsync<List<DetailDto>>(HttpStatusCode.OK));
        client.Dispose();
    }

    [Theory]
    [InlineData("{\"type\":\"SEAT\",\"data\":{\"seatId\":\"A-1-5\"}}", "data.seatId")]
    [InlineData("{\"type\":\"TICKET\",\"data\":{\"ticketType\":\"ADULT\",\"count\":1}}", "type")]
    [InlineData("{\"type\":\"SEAT\",\"data\":[1,2]}", "data")]
    [InlineData("{\"type\":\"SEAT\",\"data\":\"A-1-1\"}", "data")]
    [InlineData("{\"type\":\"NOTE\",\"data\":{\"text\":\"\"}}", "data.text")]
    [InlineData("{\"data\":{\"text\":\"x\"}}", "type")]
    public async Task Performance_details_are_validated_per_type(string body, string field)
    {
        var (client, reservation) = await PerformanceReservationAsync();

        var response = await client.PostAsync($"/api/reservations/{reservation.Id}/details", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        var problem = await response.AssertProblemAsync(HttpStatusCode.BadRequest, ProblemCodes.ValidationFailed);

        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
        await using var db = app.NewDbContext();
        Assert.False(await db.ReservationDetails.AnyAsync(d => d.ReservationId == reservation.Id));
        client.Dispose();
    }

    [Fact]
    public async Task Data_over_16_KiB_is_refused()
    {
        var (client, reservation) = await PerformanceReservationAsync();

        await (await client.PostJsonAsync($"/api/reservations/{reservation.Id}/details", new { type = "NOTE", data = new { text = "x", padding = new string('p', 17 * 1024) } }))
            .AssertProblemAsync(HttpStatusCode.BadRequest, ProblemCodes.ValidationFailed);
        client.Dispose();
    }

    [Fact]
    public async Task Numbers_are_bounded_by_their_size_written_out_as_PostgreSQL_keeps_them()
    {
        var (client, reservation) = await PerformanceReservationAsync();
        var url = $"/api/reservations/{reservation.Id}/details";
        static StringContent Note(string members) => new($"{{\"type\":\"NOTE\",\"data\":{{\"text\":\"n\",{members}}}}}", System.Text.Encoding.UTF8, "application/json");

        // 1e99 is kept as 100 digits, and read back so.
        var kept = await (await client.PostAsync(url, Note("\"n\":1e99"))).ReadAsync<DetailDto>(HttpStatusCode.Created);
        var read = await (await client.GetAsync($"{url}/{kept.Id}")).ReadAsync<DetailDto>(HttpStatusCode.OK);
        Assert.Equal("1" + new string('0', 99), read.Data.GetProperty("n").GetRawText());

        // 1e100 would be 101 characters, 1e-99 102 ("0." and 99 digits); PostgreSQL refuses 1e200000 outright.
        foreach (var number in new[] { "1e100", "1e-99", "1e200000" })
        {
            var problem = await (await client.PostAsync(url, Note($"\"n\":{number}"))).AssertProblemAsync(HttpStatusCode.BadRequest, ProblemCodes.ValidationFailed);
            Assert.True(problem.GetProperty("errors").TryGetProperty("data", out _), problem.ToString());
        }

        // 400 numbers of 4 characters each, 51 written out: 2 KiB sent, over 20 KiB kept, past the 16 KiB bound.
        var many = string.Join(',', Enumerable.Repeat("1e50", 400));
        await (await client.PostAsync(url, Note($"\"many\":[{many}]"))).AssertProblemAsync(HttpStatusCode.BadRequest, ProblemCodes.ValidationFailed);

        await using var db = app.NewDbContext();
        Assert.Equal(1, await db.ReservationDetails.CountAsync(d => d.ReservationId == reservation.Id));
        client.Dispose();
    }

    [Fact]
    public async Task Exhibition_tickets_and_restaurant_tables_are_checked_against_the_quantity()
    {
        var resource = $"d-{Guid.NewGuid():N}"[..20];
        using var client = app.Client();
        await client.SetCapacityAsync("EXHIBITION", resource, "2026-12-01", 10);
        await client.SetCapacityAsync("RESTAURANT", resource, "2026-12-01T20:00", 10);
        var exhibition = await client.ReserveAsync((await client.HoldCapacityAsync("EXHIBITION", resource, "2026-12-01", 3)).HoldId);
        var restaurant = await client.ReserveAsync((await client.HoldCapacityAsync("RESTAURANT", resource, "2026-12-01T20:00", 4)).HoldId);

        (await client.PostJsonAsync($"/api/reservations/{exhibition.Id}/details", new { type = "TICKET", data = new { ticketType = "CHILD", count = 3 } })).EnsureSuccessStatusCode();
        await (await client.PostJsonAsync($"/api/reservations/{exhibition.Id}/details", new { type = "TICKET", data = new { ticketType = "CHILD", count = 4 } }))
            .AssertProblemAsync(HttpStatusCode.BadRequest, ProblemCodes.ValidationFailed);
        await (await client.PostJsonAsync($"/api/reservations/{exhibition.Id}/details", new { type = "TICKET", data = new { ticketType = "VIP", count = 1 } }))
            .AssertProblemAsync(HttpStatusCode.BadRequest, ProblemCodes.ValidationFailed);
        (await client.PostJsonAsync($"/api/reservations/{restaurant.Id}/details", new { type = "TABLE", data = new { partySize = 4, preference = "window" } })).EnsureSuccessStatusCode();
        await (await client.PostJsonAsync($"/api/reservations/{restaurant.Id}/details", new { type = "SEAT", data = new { seatId = "A-1-1" } }))
            .AssertProblemAsync(HttpStatusCode.BadRequest, ProblemCodes.ValidationFailed);
    }

    [Fact]
    public async Task A_reservations_details_together_hold_at_most_64_KiB_at_creation_when_added_and_when_replaced()
    {
        static object Note(int kib) => new { type = "NOTE", data = new { text = "x", padding = new string('p', (kib * 1024) - 100) } };
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        using var client = app.Client($"bulky-{Guid.NewGuid():N}");

        var tooMuch = await client.PostJsonAsync("/api/reservations", new { holdId = (await client.HoldSeatsAsync(performance, "A-1-1")).HoldId, details = Enumerable.Range(0, 5).Select(_ => Note(15)) });
        await tooMuch.AssertProblemAsync(HttpStatusCode.BadRequest, ProblemCodes.ValidationFailed);

        var reservation = await client.ReserveAsync((await client.HoldSeatsAsync(performance, "A-1-2")).HoldId, Enumerable.Range(0, 4).Select(_ => Note(15)).ToArray());
        await (await client.PostJsonAsync($"/api/reservations/{reservation.Id}/details", Note(15))).AssertProblemAsync(HttpStatusCode.BadRequest, ProblemCodes.ValidationFailed);
        var first = reservation.Details[0].Id;
        await (await client.PutAsJsonAsync($"/api/reservations/{reservation.Id}/details/{first}", Note(16))).ReadAsync<JsonElement>(HttpStatusCode.OK);
        await (await client.PutAsJsonAsync($"/api/reservations/{reservation.Id}/details/{first}", new { type = "NOTE", data = new { text = "x", padding = new string('p', 17 * 1024) } }))
            .AssertProblemAsync(HttpStatusCode.BadRequest, ProblemCodes.ValidationFailed);

        await using var db = app.NewDbContext();
        var stored = await db.ReservationDetails.AsNoTracking().Where(d => d.ReservationId == reservation.Id).ToListAsync();
        Assert.Equal(4, stored.Count);
        Assert.True(stored.Sum(d => DetailRules.Size(d.Data)) <= DetailRules.MaxTotalBytes);
        Assert.False(await db.Reservations.AnyAsync(r => r.UserId == reservation.UserId && r.Id != reservation.Id));
    }

    [Fact]
    public async Task Details_of_characters_json_may_escape_take_in_the_stored_event_what_they_take_in_an_answer()
    {
        // 60 KiB of '<' and 'é' as the API writes them; escaped as \u003C and \u00E9 they would take about five times
        // that (jsonb keeps them unescaped, and the relay sends what it keeps).
        static object Note(int kib) => new { type = "NOTE", data = new { text = "x", padding = string.Concat(Enumerable.Repeat("<é", ((kib * 1024) - 100) / 3)) } };
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        using var client = app.Client();
        var reservation = await client.ReserveAsync((await client.HoldSeatsAsync(performance, "A-1-4")).HoldId, Enumerable.Range(0, 4).Select(_ => Note(15)).ToArray());

        await using var db = app.NewDbContext();
        var payload = await db.OutboxMessages.AsNoTracking().Where(m => m.MessageKey == reservation.Id.ToString("D")).Select(m => m.Payload).SingleAsync();
        var bytes = System.Text.Encoding.UTF8.GetByteCount(payload);
        Assert.True(bytes <= DetailRules.MaxTotalBytes + (4 * 1024), $"The requested event takes {bytes} bytes.");
        Assert.Contains("<é<é", payload, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Details_added_at_once_by_many_requests_stay_within_the_limits()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        using var client = app.Client($"eager-{Guid.NewGuid():N}");
        var reservation = await client.ReserveAsync((await client.HoldSeatsAsync(performance, "A-1-3")).HoldId);
        var note = new { type = "NOTE", data = new { text = "x", padding = new string('p', 1000) } };

        var answers = await Task.WhenAll(Enumerable.Range(0, ReservationsApi.MaxDetailsPerReservation + 20)
            .Select(async _ => (await client.PostJsonAsync($"/api/reservations/{reservation.Id}/details", note)).StatusCode));

        Assert.Equal(ReservationsApi.MaxDetailsPerReservation, answers.Count(a => a == HttpStatusCode.Created));
        Assert.Equal(20, answers.Count(a => a == HttpStatusCode.BadRequest));
        await using var db = app.NewDbContext();
        Assert.Equal(ReservationsApi.MaxDetailsPerReservation, await db.ReservationDetails.CountAsync(d => d.ReservationId == reservation.Id));
    }

    [Fact]
    public async Task Data_nested_past_32_levels_is_refused_and_data_32_deep_reads_back_in_every_answer_that_carries_it()
    {
        var (client, reservation) = await PerformanceReservationAsync();
        var url = $"/api/reservations/{reservation.Id}/details";
        // The data object is the first level; "n" adds one level per array.
        static StringContent Nested(int arrays) =>
            new($"{{\"type\":\"NOTE\",\"data\":{{\"text\":\"x\",\"n\":{new string('[', arrays)}{new string(']', arrays)}}}}}", System.Text.Encoding.UTF8, "application/json");

        var problem = await (await client.PostAsync(url, Nested(32))).AssertProblemAsync(HttpStatusCode.BadRequest, ProblemCodes.ValidationFailed);
        Assert.True(problem.GetProperty("errors").TryGetProperty("data", out _), problem.ToString());

        var deepest = await (await client.PostAsync(url, Nested(32 - 1))).ReadAsync<DetailDto>(HttpStatusCode.Created);
        Assert.Equal(deepest.Id, Assert.Single(await (await client.GetAsync(url)).ReadAsync<List<DetailDto>>(HttpStatusCode.OK)).Id);
        Assert.Single((await (await client.GetAsync($"/api/reservations/{reservation.Id}")).ReadAsync<ReservationDto>(HttpStatusCode.OK)).Details);
        // A page wraps it deepest of all.
        using var page = await client.GetAsync("/api/reservations?limit=200");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        client.Dispose();
    }

    [Fact]
    public async Task Details_are_measured_alike_as_sent_and_as_PostgreSQL_gives_them_back_so_a_full_reservation_can_replace_one_unchanged()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        using var client = app.Client();
        // Four details of nearly 16 KiB each: jsonb gives arrays back with a space after every comma (half as much again).
        var data = new { text = "x", n = Enumerable.Repeat(1, 7900).ToArray() };
        var reservation = await client.ReserveAsync((await client.HoldSeatsAsync(performance, "A-1-4")).HoldId,
            Enumerable.Range(0, 4).Select(_ => new { type = "NOTE", data = (object)data }).ToArray());

        var first = reservation.Details[0];
        var replaced = await (await client.PutAsJsonAsync($"/api/reservations/{reservation.Id}/details/{first.Id}", new { type = "NOTE", data }))
            .ReadAsync<DetailDto>(HttpStatusCode.OK);
        Assert.Equal(7900, replaced.Data.GetProperty("n").GetArrayLength());
    }

    [Fact]
    public async Task Text_counts_by_its_own_bytes_not_as_it_would_take_escaped()
    {
        var (client, reservation) = await PerformanceReservationAsync();
        var url = $"/api/reservations/{reservation.Id}/details";

        // 6,000 accented letters take 12,000 bytes (escaped, each would take six); 9,000 take 18,000, over 16 KiB.
        var accented = await (await client.PostJsonAsync(url, new { type = "NOTE", data = new { text = "x", name = new string('é', 6000) } })).ReadAsync<DetailDto>(HttpStatusCode.Created);
        Assert.Equal(6000, accented.Data.GetProperty("name").GetString()!.Length);
        await (await client.PostJsonAsync(url, new { type = "NOTE", data = new { text = "x", name = new string('é', 9000) } }))
            .AssertProblemAsync(HttpStatusCode.BadRequest, ProblemCodes.ValidationFailed);
        client.Dispose();
    }

    [Fact]
    public async Task Details_given_with_the_reservation_are_stored_with_it()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        using var client = app.Client();
        var hold = await client.HoldSeatsAsync(performance, "A-1-3");

        var reservation = await client.ReserveAsync(hold.HoldId, new[] { new { type = "SEAT", data = (object)new { seatId = "A-1-3", holderName = "Bo" } } });

        Assert.Equal("Bo", Assert.Single(reservation.Details).Data.GetProperty("holderName").GetString());
        await using var db = app.NewDbContext();
        Assert.Equal(1, await db.ReservationDetails.CountAsync(d => d.ReservationId == reservation.Id));
    }

    [Fact]
    public async Task Batch_get_returns_own_details_and_lists_the_rest_as_missing()
    {
        var (alice, mine) = await PerformanceReservationAsync("alice");
        var (bob, theirs) = await PerformanceReservationAsync("bob");
        var myDetail = await (await alice.PostJsonAsync($"/api/reservations/{mine.Id}/details", new { type = "NOTE", data = new { text = "mine" } })).ReadAsync<DetailDto>(HttpStatusCode.Created);
        var theirDetail = await (await bob.PostJsonAsync($"/api/reservations/{theirs.Id}/details", new { type = "NOTE", data = new { text = "theirs" } })).ReadAsync<DetailDto>(HttpStatusCode.Created);
        var unknown = Guid.NewGuid();

        var batch = await (await alice.PostJsonAsync("/api/reservation-details/batch-get", new { ids = new[] { myDetail.Id, theirDetail.Id, unknown } }))
            .ReadAsync<DetailBatch>(HttpStatusCode.OK);

        Assert.Equal([myDetail.Id], batch.Items.Select(d => d.Id));
        Assert.Equal([theirDetail.Id, unknown], batch.MissingIds);
        alice.Dispose();
        bob.Dispose();
    }

    [Fact]
    public async Task Another_users_reservation_is_404_on_every_details_endpoint()
    {
        var (alice, reservation) = await PerformanceReservationAsync("alice");
        var detail = await (await alice.PostJsonAsync($"/api/reservations/{reservation.Id}/details", new { type = "NOTE", data = new { text = "x" } })).ReadAsync<DetailDto>(HttpStatusCode.Created);
        using var bob = app.Client("bob");
        var url = $"/api/reservations/{reservation.Id}/details";

        await (await bob.GetAsync(url)).AssertProblemAsync(HttpStatusCode.NotFound, ProblemCodes.NotFound);
        await (await bob.PostJsonAsync(url, new { type = "NOTE", data = new { text = "y" } })).AssertProblemAsync(HttpStatusCode.NotFound, ProblemCodes.NotFound);
        await (await bob.GetAsync($"{url}/{detail.Id}")).AssertProblemAsync(HttpStatusCode.NotFound, ProblemCodes.NotFound);
        await (await bob.PutAsJsonAsync($"{url}/{detail.Id}", new { type = "NOTE", data = new { text = "z" } })).AssertProblemAsync(HttpStatusCode.NotFound, ProblemCodes.NotFound);
        await (await bob.DeleteAsync($"{url}/{detail.Id}")).AssertProblemAsync(HttpStatusCode.NotFound, ProblemCodes.NotFound);
        await using var db = app.NewDbContext();
        Assert.Equal("x", (await db.ReservationDetails.AsNoTracking().SingleAsync(d => d.Id == detail.Id)).Data.RootElement.GetProperty("text").GetString());
        alice.Dispose();
    }

    [Fact]
    public async Task Details_of_a_failed_reservation_are_frozen()
    {
        var (client, reservation) = await PerformanceReservationAsync();
        await using (var db = app.NewDbContext())
        {
            await db.Reservations.Where(r => r.Id == reservation.Id).ExecuteUpdateAsync(s => s.SetProperty(r => r.Status, ReservationStatus.Failed));
        }

        await (await client.PostJsonAsync($"/api/reservations/{reservation.Id}/details", new { type = "NOTE", data = new { text = "late" } }))
            .AssertProblemAsync(HttpStatusCode.Conflict, ProblemCodes.InvalidState);
        client.Dispose();
    }
}
