using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Booking.Core;

namespace Booking.LoadTest;

/// <summary>
/// One run of the benchmark: the system started, each mode's warm-up and measured phases with their audits and costs,
/// and the report. A stop asked for (<paramref name="stopping"/>) ends the phase under way and throws before anything
/// of a cut-short run is audited or reported.
/// </summary>
internal sealed class LoadRun(LoadOptions options, SystemUnderTest system, EventWatcher events, HttpClient http, CostMeter costs, CancellationToken stopping)
{
    private readonly Workload _workload = new(options, http, events, system.Tokens);
    private readonly Audit _audit = new(system, events, stopping);
    private readonly List<PhaseResult> _phases = [];
    private readonly List<string> _seats = CeilingServer.SeatIds(options.Seats);

    /// <summary>Runs every mode asked for; returns the tool's exit code (0, or 2 when the audit found a fault).</summary>
    public static async Task<int> ExecuteAsync(LoadOptions options, CancellationToken stopping)
    {
        var startedAt = DateTimeOffset.UtcNow;
        Console.WriteLine($"Booking.LoadTest: {options.Users} users, {options.WarmUp.TotalSeconds:0} s warm-up, {options.Duration.TotalSeconds:0} s per phase, modes {string.Join(", ", options.Modes)}");
        await using var system = await SystemUnderTest.StartAsync(options, stopping);
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
        await using var costs = new CostMeter(system);
        var run = new LoadRun(options, system, events, http, costs, stopping);
        foreach (var mode in LoadOptions.AllModes.Where(options.Modes.Contains))
        {
            await run.RunModeAsync(mode);
        }

        var phases = run._phases;
        var spans = system.DashboardData is { } dashboardData ? await DashboardStore.CountAsync(dashboardData, phases, stopping) : null;
        // A stop that came after the last phase (during the last audit or the span count) still reports nothing.
        stopping.ThrowIfCancellationRequested();
        var result = new RunResult(startedAt, Environment.ProcessorCount, options, spans?.AddTo(phases) ?? phases, Report.Ratios(phases), run._audit.Clean, run._audit.Checks, spans?.NotCounted);
        await Report.WriteAsync(result, options.Output);
        Console.WriteLine();
        Console.WriteLine(Report.Markdown(result));
        Console.WriteLine($"Written: {Path.GetFullPath(Path.Combine(options.Output, "result.json"))} and result.md");
        return run._audit.Clean ? 0 : 2;
    }

    /// <summary>One mode: its warm-up, its holds phase and, but for the ceiling, its bookings phase, each audited.</summary>
    private async Task RunModeAsync(string mode)
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
        _phases.Add(await MeasuredAsync(() => _workload.HoldsAsync(target with { }, holdsPerformance, _seats, stopping)));
        await _audit.HoldPhaseAsync(mode, holdsPerformance, _seats.Count);

        if (!target.IsCeiling)
        {
            var bookingsPerformance = await PreparePerformanceAsync(target, $"{mode} bookings");
            List<Guid> reservations = [];
            var breakdown = new Breakdown();
            var booked = await MeasuredAsync(async () =>
            {
                var (result, made) = await _workload.BookingsAsync(target, bookingsPerformance, _seats, stopping, breakdown: breakdown);
                reservations = made;
                return result;
            });
            await _audit.BookingPhaseAsync(mode, bookingsPerformance, reservations);
            _phases.Add(booked with { Stages = await breakdown.MeasureAsync(system.ConnectionStrings["bookingdb"], events, stopping) });
        }
    }

    /// <summary>A phase with what it cost the system per successful operation (hold, or booking completed with its event).</summary>
    private async Task<PhaseResult> MeasuredAsync(Func<Task<PhaseResult>> phase)
    {
        var before = await costs.TakeAsync();
        var from = DateTimeOffset.UtcNow;
        var result = await phase();
        // A phase cut short by a stop is not a measurement: nothing of it is audited or reported.
        stopping.ThrowIfCancellationRequested();
        var to = DateTimeOffset.UtcNow;
        var after = await costs.TakeAsync();
        return result with { Costs = CostMeter.Between(before, after, result.Succeeded), Window = new PhaseWindow(from, to) };
    }

    /// <summary>
    /// Each of the mode's workloads, unmeasured, on a performance of its own, audited like the measured ones (its
    /// bookings drained) before measuring: holds and releases, then bookings, so every request a measured phase makes
    /// has run before it (a bookings warm-up alone left the release path to be compiled inside the holds phase).
    /// </summary>
    private async Task WarmUpAsync(Target target)
    {
        var warmUp = new Workload(options with { Duration = options.WarmUp, RampUp = options.RampUp < options.WarmUp / 2 ? options.RampUp : options.WarmUp / 2 }, http, events, system.Tokens);
        var phase = $"{target.Mode} warm-up";
        var performance = await PreparePerformanceAsync(target, phase);
        await warmUp.HoldsAsync(target, performance, _seats, stopping, phase);
        stopping.ThrowIfCancellationRequested();
        await _audit.HoldPhaseAsync(phase, performance, _seats.Count);
        if (!target.IsCeiling)
        {
            var (_, reservations) = await warmUp.BookingsAsync(target, performance, _seats, stopping, phase);
            stopping.ThrowIfCancellationRequested();
            await _audit.BookingPhaseAsync(phase, performance, reservations);
        }
    }

    /// <summary>Creates a performance of the run's size (sections of 100 rows x 100 seats) and loads its seats into Redis.</summary>
    private async Task<string> PreparePerformanceAsync(Target target, string title)
    {
        if (target.IsCeiling)
        {
            var id = Guid.NewGuid().ToString("N");
            (await http.PostAsync(new Uri(new Uri(target.BaseUrl), $"/load/{id}?count={options.Seats}"), null, stopping)).EnsureSuccessStatusCode();
            return id;
        }

        var sections = Enumerable.Range(0, (options.Seats + 9_999) / 10_000)
            .Select(i => new { code = $"S{i}", rows = Math.Min(100, (options.Seats - (i * 10_000)) / 100), seatsPerRow = 100 });
        var created = await http.PostAsJsonAsync(new Uri(new Uri(system.Endpoints["performance-stub"]), "/performances"),
            new { title, startsAt = DateTimeOffset.UtcNow.AddDays(30), sections }, BookingJson.Options, stopping);
        created.EnsureSuccessStatusCode();
        var performanceId = (await created.Content.ReadFromJsonAsync<JsonElement>(stopping)).GetProperty("id").GetString()!;
        // The first read loads the seat map into Redis, outside the measured phase.
        (await http.GetAsync(new Uri(new Uri(target.BaseUrl), $"/api/performances/{performanceId}/seats?section=S0&status=BOOKED"), stopping)).EnsureSuccessStatusCode();
        return performanceId;
    }
}
