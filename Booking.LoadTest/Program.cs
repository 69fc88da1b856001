using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Booking.Core;
using Booking.LoadTest;

if (args is ["ceiling-server", ..])
{
    return await CeilingServer.RunAsync();
}

if (args is ["profile", var trace])
{
    return ProfileSummary.Run(trace);
}

LoadOptions options;
try
{
    options = LoadOptions.Parse(args);
}
catch (Exception exception) when (exception is ArgumentException or FormatException)
{
    Console.Error.WriteLine(exception.Message);
    return 64;
}

using var stopping = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stopping.Cancel();
};

var startedAt = DateTimeOffset.UtcNow;
Console.WriteLine($"Booking.LoadTest: {options.Users} users, {options.WarmUp.TotalSeconds:0} s warm-up, {options.Duration.TotalSeconds:0} s per phase, modes {string.Join(", ", options.Modes)}");
await using var system = await SystemUnderTest.StartAsync(options, stopping.Token);
using var events = new EventWatcher(system.ConnectionStrings["kafka"]);
using var http = new HttpClient(new SocketsHttpHandler
{
    MaxConnectionsPerServer = options.Users * 2,
    PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
    AutomaticDecompression = DecompressionMethods.None,
})
{
    Timeout = TimeSpan.FromSeconds(60),
};

// Requests of the run's own (performances, seat maps) go as an admin; each virtual user sends its own token.
http.DefaultRequestHeaders.Authorization = system.Tokens.Admin;
var workload = new Workload(options, http, events, system.Tokens);
var audit = new Audit(system, events);
await using var costs = new CostMeter(system);
var phases = new List<PhaseResult>();
var seats = Booking.LoadTest.CeilingServer.SeatIds(options.Seats);

foreach (var mode in LoadOptions.AllModes.Where(options.Modes.Contains))
{
    await RunModeAsync(mode);
}

var spans = system.DashboardData is { } dashboardData ? await DashboardStore.CountAsync(dashboardData, phases, stopping.Token) : null;
var run = new RunResult(startedAt, Environment.ProcessorCount, options, spans?.AddTo(phases) ?? phases, Report.Ratios(phases), audit.Clean, audit.Checks, spans?.NotCounted);
await Report.WriteAsync(run, options.Output);
Console.WriteLine();
Console.WriteLine(Report.Markdown(run));
Console.WriteLine($"Written: {Path.GetFullPath(Path.Combine(options.Output, "result.json"))} and result.md");
return audit.Clean ? 0 : 2;

// One mode: its warm-up, its holds phase and, but for the ceiling, its bookings phase, each audited.
async Task RunModeAsync(string mode)
{
    var target = new Target(mode, mode switch
    {
        "ceiling" => system.Endpoints["ceiling"],
        "naive" => system.Endpoints["booking-api-naive"],
        _ => system.Endpoints["booking-api"],
    });
    Console.WriteLine($"== {mode}");
    if (options.WarmUp > TimeSpan.Zero)
    {
        await WarmUpAsync(target);
    }

    var holdsPerformance = await PreparePerformanceAsync(target, $"{mode} holds");
    phases.Add(await MeasuredAsync(() => workload.HoldsAsync(target with { }, holdsPerformance, seats, stopping.Token)));
    await audit.HoldPhaseAsync(mode, holdsPerformance, seats.Count);

    if (!target.IsCeiling)
    {
        var bookingsPerformance = await PreparePerformanceAsync(target, $"{mode} bookings");
        List<Guid> reservations = [];
        var breakdown = new Breakdown();
        var booked = await MeasuredAsync(async () =>
        {
            var (result, made) = await workload.BookingsAsync(target, bookingsPerformance, seats, stopping.Token, breakdown: breakdown);
            reservations = made;
            return result;
        });
        await audit.BookingPhaseAsync(mode, bookingsPerformance, reservations);
        phases.Add(booked with { Stages = await breakdown.MeasureAsync(system.ConnectionStrings["bookingdb"], events, stopping.Token) });
    }
}

// A phase with what it cost the system per successful operation (hold, or booking completed with its event).
async Task<PhaseResult> MeasuredAsync(Func<Task<PhaseResult>> phase)
{
    var before = await costs.TakeAsync();
    var from = DateTimeOffset.UtcNow;
    var result = await phase();
    var to = DateTimeOffset.UtcNow;
    var after = await costs.TakeAsync();
    return result with { Costs = CostMeter.Between(before, after, result.Succeeded), Window = new PhaseWindow(from, to) };
}

// Each of the mode's workloads, unmeasured, on a performance of its own, audited like the measured ones (its
// bookings drained) before measuring: holds and releases, then bookings, so every request a measured phase makes has
// run before it (a bookings warm-up alone left the release path to be compiled inside the holds phase).
async Task WarmUpAsync(Target target)
{
    var warmUp = new Workload(options with { Duration = options.WarmUp, RampUp = options.RampUp < options.WarmUp / 2 ? options.RampUp : options.WarmUp / 2 }, http, events, system.Tokens);
    var phase = $"{target.Mode} warm-up";
    var performance = await PreparePerformanceAsync(target, phase);
    await warmUp.HoldsAsync(target, performance, seats, stopping.Token, phase);
    await audit.HoldPhaseAsync(phase, performance, seats.Count);
    if (!target.IsCeiling)
    {
        var (_, reservations) = await warmUp.BookingsAsync(target, performance, seats, stopping.Token, phase);
        await audit.BookingPhaseAsync(phase, performance, reservations);
    }
}

// Creates a performance of the run's size (sections of 100 rows x 100 seats) and loads its seats into Redis.
async Task<string> PreparePerformanceAsync(Target target, string title)
{
    if (target.IsCeiling)
    {
        var id = Guid.NewGuid().ToString("N");
        (await http.PostAsync(new Uri(new Uri(target.BaseUrl), $"/load/{id}?count={options.Seats}"), null, stopping.Token)).EnsureSuccessStatusCode();
        return id;
    }

    var sections = Enumerable.Range(0, (options.Seats + 9_999) / 10_000)
        .Select(i => new { code = $"S{i}", rows = Math.Min(100, (options.Seats - (i * 10_000)) / 100), seatsPerRow = 100 });
    var created = await http.PostAsJsonAsync(new Uri(new Uri(system.Endpoints["performance-stub"]), "/performances"),
        new { title, startsAt = DateTimeOffset.UtcNow.AddDays(30), sections }, BookingJson.Options, stopping.Token);
    created.EnsureSuccessStatusCode();
    var performanceId = (await created.Content.ReadFromJsonAsync<JsonElement>(stopping.Token)).GetProperty("id").GetString()!;
    // The first read loads the seat map into Redis, outside the measured phase.
    (await http.GetAsync(new Uri(new Uri(target.BaseUrl), $"/api/performances/{performanceId}/seats?section=S0&status=BOOKED"), stopping.Token)).EnsureSuccessStatusCode();
    return performanceId;
}
