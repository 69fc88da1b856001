using System.Diagnostics;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Booking.Api.Holds;
using Booking.Api.Seats;
using Booking.Core;
using Booking.Core.Reservations;
using Booking.PerformanceStub.Data;

namespace Booking.Tests.Distributed;

/// <summary>
/// The saga worker process is SIGKILLed in the middle of sagas and brought back the way an SRE would, with the
/// resource's start command (what the dashboard's button runs); every saga must finish, with no double allocation.
/// </summary>
[Collection(DistributedRun.Name)]
public sealed class WorkerCrashTests(DistributedSystem system, ITestOutputHelper output)
{
    [Fact]
    public async Task A_worker_killed_mid_saga_resumes_every_saga_after_its_start_command_without_duplicate_allocations()
    {
        var ct = TestContext.Current.CancellationToken;
        var app = system.App;
        using var http = system.Client("booking-api", "crash-tester");
        using var stub = system.Client("performance-stub");
        var performance = await system.CreatePerformanceAsync("Crash", rows: 2);
        // Allocations that never answer in time (the worker gives each call 5 s, twice), so that the kill lands while
        // sagas are in their AllocateSection step however slow the machine is; the service answers again before the
        // worker is started again.
        (await stub.PostAsJsonAsync("/_chaos", new { failureRate = 0.0, latencyMs = 30_000 }, ct)).EnsureSuccessStatusCode();
        var workerDown = false;
        try
        {
            var reservations = new List<Guid>();
            for (var i = 0; i < 20; i++)
            {
                var seats = new[] { $"A-{1 + (i % 2)}-{1 + (i / 2)}", $"B-{1 + (i % 2)}-{1 + (i / 2)}" };
                var hold = await (await http.PostAsJsonAsync($"/api/performances/{performance}/holds", new { seatIds = seats }, BookingJson.Options, ct))
                    .ReadAsync<SeatHoldDto>(HttpStatusCode.Created);
                reservations.Add((await (await http.PostAsJsonAsync("/api/reservations", new { holdId = hold.HoldId }, BookingJson.Options, ct))
                    .ReadAsync<ReservationDto>(HttpStatusCode.Accepted)).Id);
            }

            var performanceDb = (await app.GetConnectionStringAsync("performancedb", ct))!;
            var bookingDb = (await app.GetConnectionStringAsync("bookingdb", ct))!;
            var performanceId = Guid.Parse(performance);
            // Kill once the first seats are booked in Redis: those sagas have confirmed their holds and wait on the
            // allocation call.
            await WaitUntilAsync(async () => (await http.GetFromJsonAsync<SeatMapDto>($"/api/performances/{performance}/seats?status=BOOKED", BookingJson.Options, ct))!.Seats.Count > 0,
                TimeSpan.FromSeconds(30));

            var worker = WorkerProcess(app);
            workerDown = true;
            worker.Kill();
            await worker.WaitForExitAsync(ct);
            await app.ResourceNotifications.WaitForResourceAsync("saga-worker", [KnownResourceStates.Exited, KnownResourceStates.Finished], ct)
                .WaitAsync(TimeSpan.FromSeconds(30), ct);
            await using (var db = NewBookingDb(bookingDb))
            {
                var unfinished = await db.Reservations.CountAsync(r => reservations.Contains(r.Id) && r.Status == ReservationStatus.Pending, ct);
                output.WriteLine($"killed the worker (pid {worker.Id}) with {unfinished} of 20 sagas unfinished");
                Assert.True(unfinished > 0, "The kill should land mid-saga.");
            }

            (await stub.PostAsJsonAsync("/_chaos", new { failureRate = 0.0, latencyMs = 0 }, ct)).EnsureSuccessStatusCode();
            await TestAppHost.StartAgainAsync(app, "saga-worker", TimeSpan.FromSeconds(60));
            workerDown = false;
            await using (var db = NewBookingDb(bookingDb))
            {
                await WaitUntilAsync(async () => await db.Reservations.CountAsync(r => reservations.Contains(r.Id) && r.Status == ReservationStatus.Confirmed, ct) == 20, TimeSpan.FromSeconds(90));
            }

            await using var performanceCheck = NewPerformanceDb(performanceDb);
            var allocations = await performanceCheck.Allocations.AsNoTracking().Where(a => a.PerformanceId == performanceId).ToListAsync(ct);
            var sections = await performanceCheck.Sections.AsNoTracking().Where(s => s.PerformanceId == performanceId).ToListAsync(ct);
            Assert.Equal(40, allocations.Count);
            Assert.All(allocations, a => Assert.Equal((AllocationState.Allocated, 1), (a.State, a.Seats)));
            Assert.All(sections, s => Assert.Equal(s.Capacity - 20, s.Remaining));
        }
        finally
        {
            (await stub.PostAsJsonAsync("/_chaos", new { failureRate = 0.0, latencyMs = 0 }, CancellationToken.None)).EnsureSuccessStatusCode();
            if (workerDown)
            {
                // The tests after this one share the system: they need the worker back even when this one failed.
                await TestAppHost.StartAgainAsync(app, "saga-worker", TimeSpan.FromSeconds(60));
            }
        }
    }

    /// <summary>
    /// The worker's own process. DCP starts a project as <c>dotnet run</c>, whose pid the resource reports; the
    /// service is that process's child.
    /// </summary>
    private static Process WorkerProcess(DistributedApplication app)
    {
        var pid = TestAppHost.Pid(app, "saga-worker");
        var children = Directory.GetDirectories($"/proc/{pid}/task")
            .SelectMany(task => File.ReadAllText(Path.Combine(task, "children")).Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(int.Parse)
            .ToList();
        return Process.GetProcessById(children.Count == 1 ? children[0] : pid);
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
