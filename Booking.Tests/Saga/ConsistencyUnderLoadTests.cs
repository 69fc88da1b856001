using Booking.Api.Holds;
using Booking.Api.Seats;
using Booking.Core.Outbox;
using Booking.PerformanceStub.Data;

namespace Booking.Tests.Saga;

public sealed class ConsistencyUnderLoadTests(SagaApp app, ITestOutputHelper output) : IClassFixture<SagaApp>
{
    [Fact]
    public async Task Three_hundred_concurrent_bookings_racing_for_one_section_stay_consistent()
    {
        const int capacity = 60;
        var performance = await app.CreatePerformanceAsync(("A", 6, 10));
        var seats = Enumerable.Range(1, 6).SelectMany(row => Enumerable.Range(1, 10).Select(n => $"A-{row}-{n}")).ToArray();
        var random = new Random(7);
        var picks = Enumerable.Range(0, 300).Select(_ => seats.OrderBy(_ => random.Next()).Take(random.Next(1, 5)).ToArray()).ToList();

        var outcomes = await Task.WhenAll(picks.Select(async (pick, i) =>
        {
            using var client = app.Client($"racer-{i}");
            var hold = await client.PostJsonAsync($"/api/performances/{performance}/holds", new { seatIds = pick });
            if (hold.StatusCode != HttpStatusCode.Created)
            {
                Assert.Equal(HttpStatusCode.Conflict, hold.StatusCode);
                return (Guid?)null;
            }

            var holdId = (await hold.ReadAsync<SeatHoldDto>(HttpStatusCode.Created)).HoldId;
            return (await client.ReserveAsync(holdId)).Id;
        }));
        var reservations = outcomes.Where(id => id is not null).Select(id => id!.Value).ToList();
        foreach (var id in reservations)
        {
            await app.WaitForFinalAsync(id, TimeSpan.FromSeconds(90));
        }

        await using var db = app.NewDbContext();
        var confirmed = await db.Reservations.AsNoTracking().Where(r => reservations.Contains(r.Id) && r.Status == ReservationStatus.Confirmed).ToListAsync();
        var confirmedSeats = confirmed.SelectMany(r => r.SeatIds).ToList();
        output.WriteLine($"holds won {reservations.Count}/300, confirmed {confirmed.Count}, seats booked {confirmedSeats.Count}/{capacity}");

        // No seat booked twice, and Redis agrees seat by seat with PostgreSQL's confirmed reservations.
        Assert.Equal(confirmedSeats.Count, confirmedSeats.Distinct().Count());
        var redisSeats = (await app.Redis.HashGetAllAsync($"perf:{{{performance}}}:seats")).ToDictionary(e => e.Name.ToString(), e => e.Value.ToString());
        var holdOf = confirmed.SelectMany(r => r.SeatIds.Select(s => (Seat: s, r.HoldId))).ToDictionary(x => x.Seat, x => x.HoldId);
        foreach (var (seat, value) in redisSeats)
        {
            Assert.Equal(holdOf.TryGetValue(seat, out var hold) ? $"B:{hold:D}" : "A", value);
        }

        // remaining == capacity - confirmed seats, and the allocations add up.
        await using var stubDb = new PerformanceDbContext(new DbContextOptionsBuilder<PerformanceDbContext>()
            .UseNpgsql(app.PerformanceDb).UseSnakeCaseNamingConvention().Options);
        var performanceId = Guid.Parse(performance);
        var section = await stubDb.Sections.AsNoTracking().SingleAsync(s => s.PerformanceId == performanceId);
        var allocated = await stubDb.Allocations.AsNoTracking().Where(a => a.PerformanceId == performanceId && a.State == AllocationState.Allocated).SumAsync(a => a.Seats);
        Assert.Equal(capacity - confirmedSeats.Count, section.Remaining);
        Assert.Equal(confirmedSeats.Count, allocated);

        // One completed event per confirmed reservation (a redelivery would carry the same event id).
        foreach (var reservation in confirmed)
        {
            await app.WaitForEventAsync(BookingTopics.Completed, reservation.Id);
        }

        var completed = app.Events.Where(e => e.Topic == BookingTopics.Completed).ToList();
        foreach (var reservation in confirmed)
        {
            var events = completed.Where(e => e.Key == reservation.Id.ToString()).Select(e => e.EventId).Distinct();
            Assert.Single(events);
        }

        Assert.DoesNotContain(completed, e => reservations.Contains(Guid.Parse(e.Key)) && !confirmed.Any(r => r.Id.ToString() == e.Key));
    }
}
