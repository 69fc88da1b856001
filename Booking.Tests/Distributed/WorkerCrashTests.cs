using System.Net;
using System.Net.Http.Json;
using Booking.AppHost;
using Booking.AppHost.Hosting;
using Booking.Api.Seats;
using Booking.Core;
using Booking.Core.Data;
using Booking.Core.Outbox;
using Booking.Core.Reservations;
using Booking.PerformanceStub.Data;
using Booking.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Booking.Tests.Distributed;

/// <summary>
/// The saga worker as a real process that is SIGKILLed in the middle of sagas. The services run as child
/// processes through the AppHost library (which restarts a crashed service) against the test's Redis, PostgreSQL
/// and a Kafka mock cluster of this test's own.
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class WorkerCrashTests(Dependencies dependencies, ITestOutputHelper output)
{
    [Fact]
    public async Task A_worker_killed_mid_saga_resumes_every_saga_after_restart_without_duplicate_allocations()
    {
        using var kafka = KafkaMockCluster.Start(BookingTopics.All);
        var bookingDb = await dependencies.CreateDatabaseAsync("crash_booking");
        var performanceDb = await dependencies.CreateDatabaseAsync("crash_performance");
        var root = AppHostCommandLine.FindRepositoryRoot();
        var builder = new DistributedApplicationBuilder(new AppHostOptions
        {
            DataDirectory = Path.Combine(Path.GetTempPath(), "booking-tests", Guid.NewGuid().ToString("N")),
            RepositoryRoot = root,
            DashboardPort = null,
        });
        var redis = builder.AddConnectionString("redis", dependencies.Redis.ConnectionString);
        var booking = builder.AddConnectionString("bookingdb", bookingDb);
        var performances = builder.AddConnectionString("performancedb", performanceDb);
        var broker = builder.AddConnectionString("kafka", kafka.BootstrapServers);
        var stub = builder.AddProject("performance-stub", "Booking.PerformanceStub")
            .WithReference(performances).WithReference(redis);
        var api = builder.AddProject("booking-api", "Booking.Api")
            .WithReference(redis).WithReference(booking).WithReference(stub).WaitFor(stub)
            .WithEnvironment("Booking__SagaResumeAfter", "00:00:02");
        var worker = builder.AddProject("saga-worker", "Booking.SagaWorker")
            .WithReference(redis).WithReference(booking).WithReference(broker).WithReference(stub).WaitFor(api)
            .WithEnvironment("Booking__SagaResumeAfter", "00:00:02")
            .WithEnvironment("Saga__SweepInterval", "00:00:00.200");
        await using var app = builder.Build();
        await app.StartAsync(TestContext.Current.CancellationToken);

        using var http = new HttpClient { BaseAddress = new Uri(api.Resource.Url) };
        http.DefaultRequestHeaders.Add("X-User-Id", "crash-tester");
        using var stubHttp = new HttpClient { BaseAddress = new Uri(stub.Resource.Url) };
        var created = await (await stubHttp.PostAsJsonAsync("/performances", new
        {
            title = "Crash",
            startsAt = DateTimeOffset.UtcNow.AddDays(1),
            sections = new[] { new { code = "A", rows = 2, seatsPerRow = 10 }, new { code = "B", rows = 2, seatsPerRow = 10 } },
        })).Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        var performance = created.GetProperty("id").GetString()!;
        // Slow allocations, so that the kill lands while sagas are in their AllocateSection step.
        (await stubHttp.PostAsJsonAsync("/_chaos", new { failureRate = 0.0, latencyMs = 400 })).EnsureSuccessStatusCode();

        var reservations = new List<Guid>();
        for (var i = 0; i < 20; i++)
        {
            var seats = new[] { $"A-{1 + (i % 2)}-{1 + (i / 2)}", $"B-{1 + (i % 2)}-{1 + (i / 2)}" };
            var hold = await (await http.PostAsJsonAsync($"/api/performances/{performance}/holds", new { seatIds = seats }, BookingJson.Options))
                .ReadAsync<SeatHoldDto>(HttpStatusCode.Created);
            reservations.Add((await (await http.PostAsJsonAsync("/api/reservations", new { holdId = hold.HoldId }, BookingJson.Options))
                .ReadAsync<ReservationDto>(HttpStatusCode.Accepted)).Id);
        }

        // Kill once the first allocations reached the performance service: sagas are then between their steps.
        await using (var stubDb = NewPerformanceDb(performanceDb))
        {
            var id = Guid.Parse(performance);
            await WaitUntilAsync(async () => await stubDb.Allocations.CountAsync(a => a.PerformanceId == id) > 0, TimeSpan.FromSeconds(30));
        }

        var killed = worker.Resource.Process!;
        killed.Kill();
        await killed.WaitForExitAsync();
        await using (var db = NewBookingDb(bookingDb))
        {
            var unfinished = await db.Reservations.CountAsync(r => reservations.Contains(r.Id) && r.Status == ReservationStatus.Pending);
            output.WriteLine($"killed the worker with {unfinished} of 20 sagas unfinished");
            Assert.True(unfinished > 0, "The kill should land mid-saga.");
        }

        // The AppHost restarts the crashed worker; it must resume every saga and finish it.
        await WaitUntilAsync(() => Task.FromResult(worker.Resource.Restarts == 1 && worker.Resource.Healthy), TimeSpan.FromSeconds(60));
        await using (var db = NewBookingDb(bookingDb))
        {
            await WaitUntilAsync(async () => await db.Reservations.CountAsync(r => reservations.Contains(r.Id) && r.Status == ReservationStatus.Confirmed) == 20, TimeSpan.FromSeconds(90));
        }

        await using var performanceCheck = NewPerformanceDb(performanceDb);
        var performanceId = Guid.Parse(performance);
        var allocations = await performanceCheck.Allocations.AsNoTracking().Where(a => a.PerformanceId == performanceId).ToListAsync();
        var sections = await performanceCheck.Sections.AsNoTracking().Where(s => s.PerformanceId == performanceId).ToListAsync();
        Assert.Equal(40, allocations.Count);
        Assert.All(allocations, a => Assert.Equal((AllocationState.Allocated, 1), (a.State, a.Seats)));
        Assert.All(sections, s => Assert.Equal(s.Capacity - 20, s.Remaining));
    }

    private static PerformanceDbContext NewPerformanceDb(string connectionString) =>
        new(new DbContextOptionsBuilder<PerformanceDbContext>().UseNpgsql(connectionString).UseSnakeCaseNamingConvention().Options);

    private static BookingDbContext NewBookingDb(string connectionString) =>
        new(new DbContextOptionsBuilder<BookingDbContext>().UseNpgsql(connectionString).UseSnakeCaseNamingConvention().Options);

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "Timed out waiting for the condition.");
            await Task.Delay(100);
        }
    }
}
