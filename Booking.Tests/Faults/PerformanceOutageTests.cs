using System.Collections.Concurrent;
using System.Diagnostics;
using Booking.Core.Outbox;
using Booking.PerformanceStub.Data;

namespace Booking.Tests.Faults;

/// <summary>The performance service answers every allocation and deallocation with 503 for three minutes.</summary>
[Collection(HeavyLoad.Name)]
public sealed class PerformanceOutageTests(SagaApp app, ITestOutputHelper output) : IClassFixture<SagaApp>
{
    private static readonly TimeSpan Outage = TimeSpan.FromMinutes(3);
    private const int Capacity = 400;

    [Fact]
    public async Task Three_minutes_without_the_performance_service_with_cancels_in_flight_leave_no_stuck_saga_and_exact_section_counts()
    {
        var performance = await app.CreatePerformanceAsync(("A", 20, 20));
        using var stub = app.StubClient();
        var clients = Enumerable.Range(0, 20).Select(i => app.Client($"outage-{i}")).ToArray();
        var seat = 0;
        string NextSeat()
        {
            var n = Interlocked.Increment(ref seat) - 1;
            return $"A-{(n / 20) + 1}-{(n % 20) + 1}";
        }

        // Before: 100 bookings confirmed.
        var before = await BookAsync(clients, performance, 100, NextSeat);
        foreach (var id in before)
        {
            await app.WaitForFinalAsync(id);
        }

        var reservations = new ConcurrentBag<Guid>(before);
        (await stub.PostAsJsonAsync("/_chaos", new { failureRate = 1.0, latencyMs = 0 })).EnsureSuccessStatusCode();
        var outage = Stopwatch.StartNew();
        try
        {
            // During: half of the confirmed bookings are cancelled (their deallocation cannot happen) and new ones
            // keep coming (their allocation cannot happen), one a second for three minutes.
            foreach (var (id, i) in before.Select((id, i) => (id, i)).Where(x => x.i % 2 == 0))
            {
                (await clients[i % clients.Length].PostAsync($"/api/reservations/{id}/cancel", null)).EnsureSuccessStatusCode();
            }

            while (outage.Elapsed < Outage && seat < Capacity)
            {
                foreach (var id in await BookAsync(clients, performance, 1, NextSeat))
                {
                    reservations.Add(id);
                }

                await Task.Delay(TimeSpan.FromSeconds(1));
            }
        }
        finally
        {
            (await stub.PostAsJsonAsync("/_chaos", new { failureRate = 0.0, latencyMs = 0 })).EnsureSuccessStatusCode();
        }

        var healed = Stopwatch.StartNew();
        var finals = await app.WaitForAllFinalAsync(reservations.ToList(), TimeSpan.FromMinutes(5));
        output.WriteLine($"{reservations.Count} reservations; all final {healed.Elapsed.TotalSeconds:F1} s after the service healed: {string.Join(", ", finals.GroupBy(r => r.Status).Select(g => $"{g.Key} {g.Count()}"))}");

        // Section counts exact: remaining is the capacity less the confirmed seats, and allocations agree.
        await using var stubDb = new PerformanceDbContext(new DbContextOptionsBuilder<PerformanceDbContext>().UseNpgsql(app.PerformanceDb).UseSnakeCaseNamingConvention().Options);
        var performanceId = Guid.Parse(performance);
        var confirmed = finals.Where(r => r.Status == ReservationStatus.Confirmed).ToList();
        var section = await stubDb.Sections.AsNoTracking().SingleAsync(s => s.PerformanceId == performanceId);
        var allocations = await stubDb.Allocations.AsNoTracking().Where(a => a.PerformanceId == performanceId && a.State == AllocationState.Allocated).ToListAsync();
        Assert.Equal(Capacity - confirmed.Sum(r => r.SeatIds.Count), section.Remaining);
        Assert.Equal(confirmed.Select(r => r.Id).Order(), allocations.Select(a => a.ReservationId).Order());
        Assert.All(finals.Where(r => r.Status == ReservationStatus.Cancelled), r => Assert.Contains(r.Id, before));

        // Every event stays far under Kafka's 1 MB: the step log of three minutes of retries is a few rows.
        await using var db = app.NewDbContext();
        var keys = reservations.Select(id => id.ToString("D")).ToList();
        // (jsonb: the sizes are measured here, not by PostgreSQL.)
        var largest = (await db.OutboxMessages.Where(m => keys.Contains(m.MessageKey)).Select(m => m.Payload).ToListAsync()).Max(p => System.Text.Encoding.UTF8.GetByteCount(p));
        var ids = reservations.ToList();
        var mostSteps = (await db.SagaSteps.Where(s => ids.Contains(s.ReservationId)).Select(s => s.ReservationId).ToListAsync()).GroupBy(id => id).Max(g => g.Count());
        output.WriteLine($"largest event {largest} bytes; most step rows of one saga {mostSteps}");
        Assert.True(largest < 64 * 1024, $"An event of {largest} bytes.");
        Assert.True(mostSteps <= 6, $"A saga with {mostSteps} step rows.");
        await app.WaitForOutboxSentAsync(reservations);
        foreach (var client in clients)
        {
            client.Dispose();
        }
    }

    private static async Task<List<Guid>> BookAsync(HttpClient[] clients, string performance, int count, Func<string> nextSeat) =>
        (await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
        {
            var client = clients[i % clients.Length];
            return (await client.ReserveAsync((await client.HoldSeatsAsync(performance, nextSeat())).HoldId)).Id;
        }))).ToList();
}
