using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Booking.LoadTest;

public sealed record RunResult(
    DateTimeOffset StartedAt,
    int Cores,
    LoadOptions Options,
    IReadOnlyList<PhaseResult> Phases,
    IReadOnlyDictionary<string, double> Ratios,
    bool AuditClean,
    IReadOnlyList<AuditCheck> Audit,
    string? SpansNotCounted = null);

/// <summary>The machine-readable result (JSON) and the Markdown table in the reference's format.</summary>
public static class Report
{
    /// <summary>BENCHMARK.md's "after (one Lua script)" row of the original system.</summary>
    public static readonly PhaseResult Reference = new("reference (JMeter, after)", 0, 0, 0, 180, 400, 400, 1195, 1250, 1567, 2272, 0, 3888, new Dictionary<string, long>());

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary>
    /// The run's ratios, of operations that succeeded (a fast 503 or a refused booking is no throughput): lua holds
    /// against naive holds, the ceiling and the reference; lua bookings against naive bookings.
    /// </summary>
    public static Dictionary<string, double> Ratios(IReadOnlyList<PhaseResult> phases)
    {
        ArgumentNullException.ThrowIfNull(phases);
        var ratios = new Dictionary<string, double>();
        PhaseResult? Phase(string name) => phases.FirstOrDefault(p => p.Name == name);
        // A phase with no success has no ratio (JSON has no infinity): its errors say what happened.
        void Ratio(string name, PhaseResult over, PhaseResult under)
        {
            if (under.SuccessThroughput > 0)
            {
                ratios[name] = over.SuccessThroughput / under.SuccessThroughput;
            }
        }

        if (Phase("lua bookings") is { } luaBookings && Phase("naive bookings") is { } naiveBookings)
        {
            Ratio("bookings/s lua / naive", luaBookings, naiveBookings);
        }

        if (Phase("lua holds") is not { } lua)
        {
            return ratios;
        }

        if (Phase("naive holds") is { } naive)
        {
            Ratio("holds/s lua / naive", lua, naive);
        }

        if (Phase("ceiling holds") is { } ceiling)
        {
            Ratio("holds/s lua / ceiling (bare Kestrel + EVALSHA)", lua, ceiling);
        }

        ratios["holds/s lua / reference (400/s)"] = lua.SuccessThroughput / Reference.Throughput;
        return ratios;
    }

    public static async Task WriteAsync(RunResult result, string directory)
    {
        Directory.CreateDirectory(directory);
        var json = JsonSerializer.Serialize(result, Json);
        await File.WriteAllTextAsync(Path.Combine(directory, "result.json"), json).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(directory, "result.md"), Markdown(result)).ConfigureAwait(false);
        Charts.Write(result, directory);
    }

    public static string Markdown(RunResult result)
    {
        var o = result.Options;
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Run {result.StartedAt:yyyy-MM-dd HH:mm} UTC on {result.Cores} cores: {o.Users} users, ramp-up {o.RampUp.TotalSeconds:0} s, {o.WarmUp.TotalSeconds:0} s warm-up of each workload per mode (unmeasured), {o.Duration.TotalSeconds:0} s per phase, {o.Seats:N0} seats, {o.MinSeatsPerBooking}-{o.MaxSeatsPerBooking} seats per booking; services in {o.Environment}, {(o.NoDashboard ? "no telemetry" : "all telemetry to the Aspire dashboard")}.");
        text.AppendLine();
        // Throughput counts every answer, as the reference's JMeter table does; "succeeded" only the successes, which the
        // ratios use; "s" is how long the phase ran (a bookings phase ends early when its seats run out).
        text.AppendLine("| phase | requests | throughput (/s) | succeeded (/s) | s | mean (ms) | median (ms) | p90 (ms) | p95 (ms) | p99 (ms) | max (ms) | errors |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var phase in result.Phases.Prepend(Reference))
        {
            var errors = string.Join(", ", phase.Errors.Select(e => $"{e.Key} {e.Value}"));
            var p99 = phase == Reference ? "-" : phase.P99Ms.ToString("0.0", CultureInfo.InvariantCulture);
            var requests = phase == Reference ? "-" : phase.Requests.ToString("N0", CultureInfo.InvariantCulture);
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {phase.Name} | {requests} | {phase.Throughput:N0} | {phase.SuccessThroughput:N0} | {phase.Seconds:0} | {phase.MeanMs:0.0} | {phase.MedianMs:0.0} | {phase.P90Ms:0.0} | {phase.P95Ms:0.0} | {p99} | {phase.MaxMs:0.0} | {errors} |");
        }

        AppendCosts(text, result);
        AppendSpans(text, result);

        foreach (var phase in result.Phases.Where(p => p.Stages.Count > 0))
        {
            text.AppendLine();
            text.AppendLine(CultureInfo.InvariantCulture, $"Where a booking's time goes ({phase.Name}; completed bookings; stages 1 to 7 follow one another, 8 is the whole):");
            text.AppendLine();
            text.AppendLine("| stage | bookings | p50 (ms) | p95 (ms) | p99 (ms) |");
            text.AppendLine("|---|---:|---:|---:|---:|");
            foreach (var stage in phase.Stages)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"| {stage.Stage} | {stage.Count:N0} | {stage.P50Ms:0.0} | {stage.P95Ms:0.0} | {stage.P99Ms:0.0} |");
            }
        }

        text.AppendLine();
        foreach (var (name, value) in result.Ratios)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"- {name}: {value:0.00}");
        }

        text.AppendLine();
        text.AppendLine("Charts: `throughput.png` (successful operations per second, each phase) and `latency.png` (latency by percentile); the per-second timeline is in result.json.");
        text.AppendLine();
        text.AppendLine(result.AuditClean ? "Audit: **clean**" : "Audit: **FAILED**");
        foreach (var check in result.Audit)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"- [{(check.Passed ? "x" : " ")}] {check.Name}: {check.Detail}");
        }

        return text.ToString();
    }

    /// <summary>A figure that rounds to zero at two decimals written 0.00 rather than -0.00 (a measuring skew, not a loss).</summary>
    private static double WithoutNegativeZero(double value) => Math.Round(value, 2) == 0 ? 0 : value;

    private static void AppendCosts(StringBuilder text, RunResult result)
    {
        text.AppendLine();
        text.AppendLine("What each successful operation (a hold; a booking completed with its event seen on Kafka) cost the whole system in the phase (PostgreSQL: every transaction, read-only ones too; Redis: every command, those inside Lua scripts too; CPU: user + system time of every process of the system, the Kafka mock broker (a thread of the Aspire host inside the load tool) counted as the system's, the rest of the load tool shown apart; machine: the whole machine's busy time from `/proc/stat`, the load tool included, and what no process of the run is charged with: kernel threads such as ksoftirqd, and anything else the machine ran, how busy its cores were over the phase, and what share of their time the hypervisor gave to other guests (steal), which slows a run without showing anywhere else):");
        text.AppendLine();
        text.AppendLine("| phase | PostgreSQL commits / op | by database | Redis commands / op | CPU ms / op (system) | CPU ms / op by process | CPU ms / op (machine) | of it in no process | cores busy | stolen |");
        text.AppendLine("|---|---:|---|---:|---:|---|---:|---:|---:|---:|");
        foreach (var phase in result.Phases.Where(p => p.Costs is not null))
        {
            var c = phase.Costs!;
            var byProcess = string.Join(", ", c.CpuMsPerOpByProcess.Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Key} {p.Value:0.00}")));
            var byDatabase = string.Join(", ", c.PostgresCommitsPerOpByDatabase.Select(d => string.Create(CultureInfo.InvariantCulture, $"{(d.Key.Length == 0 ? "shared" : d.Key)} {d.Value:0.00}")));
            text.AppendLine(CultureInfo.InvariantCulture, $"| {phase.Name} | {c.PostgresCommitsPerOp:0.00} | {byDatabase} | {c.RedisCommandsPerOp:0.0} | {c.CpuMsPerOp:0.00} | {byProcess} | {c.MachineCpuMsPerOp:0.00} | {WithoutNegativeZero(c.UnchargedCpuMsPerOp):0.00} | {c.MachineBusyShare * 100:0}% | {c.MachineStolenShare * 100:0.0}% |");
        }
    }

    private static void AppendSpans(StringBuilder text, RunResult result)
    {
        if (result.Options.NoDashboard)
        {
            return;
        }

        text.AppendLine();
        if (result.SpansNotCounted is not null)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"What the Aspire dashboard stored of each phase's spans: not counted, {result.SpansNotCounted}.");
            return;
        }

        text.AppendLine("What the Aspire dashboard stored of each phase's spans (counted in its store after the run). Each service's exporter drops spans once 2,048 wait for the dashboard, so under load it keeps a part: every lua hold makes one `hold_seats` span and every booking one `confirm_seats` and one `saga`, so those per operation are the part kept:");
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"| phase | spans stored | stored / s | stored / op | {string.Join(" | ", DashboardStore.Tracked.Select(name => $"{name} / op"))} |");
        text.AppendLine(CultureInfo.InvariantCulture, $"|---|---:|---:|---:|{string.Concat(DashboardStore.Tracked.Select(_ => "---:|"))}");
        foreach (var phase in result.Phases.Where(p => p.Spans is not null))
        {
            var s = phase.Spans!;
            var byName = string.Join(" | ", DashboardStore.Tracked.Select(name => s.PerOpByName.GetValueOrDefault(name).ToString("0.000", CultureInfo.InvariantCulture)));
            text.AppendLine(CultureInfo.InvariantCulture, $"| {phase.Name} | {s.Stored:N0} | {s.StoredPerSecond:N0} | {s.StoredPerOp:0.00} | {byName} |");
        }
    }
}
