using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Booking.AppHost.Hosting;

namespace Booking.Tests.Distributed;

/// <summary>
/// Booking.LoadTest's quick mode end to end: it starts the whole system itself, runs every mode, audits, and
/// writes its report. A smoke check that the tool works and its audit is clean, not a timing assertion; and a run
/// stopped half way leaves nothing behind.
/// </summary>
[Collection(DistributedRun.Name)]
public sealed class LoadTestSmokeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_quick_run_of_the_load_tool_reports_every_mode_and_a_clean_audit()
    {
        using var directory = new TestDirectory("loadtest");
        var results = directory.Path;
        using var process = StartTool("--quick", "--duration", "4", "--out", results);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await WaitForExitAsync(process, TimeSpan.FromMinutes(4), stdout, stderr);
        output.WriteLine(await stdout);

        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}\n{await stderr}");
        var result = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(results, "result.json"))).RootElement;
        Assert.True(result.GetProperty("auditClean").GetBoolean());
        // Among them, for each booked mode: every reservation the API accepted is found stored and finished, with its event.
        var checks = result.GetProperty("audit").EnumerateArray().Select(c => c.GetProperty("name").GetString()).ToList();
        Assert.All(["naive", "lua"], mode => Assert.Contains($"{mode}: every accepted reservation stored and finished", checks));
        Assert.All(["naive", "lua"], mode => Assert.Contains($"{mode}: one completed event per confirmed reservation, one failed event per failed one", checks));
        var phases = result.GetProperty("phases").EnumerateArray().Select(p => p.GetProperty("name").GetString()).ToList();
        Assert.Equal(["ceiling holds", "naive holds", "naive bookings", "lua holds", "lua bookings"], phases);
        Assert.All(result.GetProperty("phases").EnumerateArray(), p => Assert.True(p.GetProperty("succeeded").GetInt64() > 0, p.ToString()));
        Assert.Contains("| lua holds |", await File.ReadAllTextAsync(Path.Combine(results, "result.md")), StringComparison.Ordinal);
        // The targets' two ratios, of successes only, come from the tool itself.
        var ratios = result.GetProperty("ratios");
        Assert.True(ratios.GetProperty("bookings/s lua / naive").GetDouble() > 0, ratios.ToString());
        Assert.True(ratios.GetProperty("holds/s lua / ceiling (bare Kestrel + EVALSHA)").GetDouble() > 0, ratios.ToString());

        // What the dashboard stored is counted per phase in its own store: some of the lua holds' Lua call spans, never
        // more than the one each hold makes.
        var luaHolds = result.GetProperty("phases").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "lua holds");
        var holdSpansPerHold = luaHolds.GetProperty("spans").GetProperty("perOpByName").GetProperty("hold_seats").GetDouble();
        Assert.InRange(holdSpansPerHold, 0.001, 1.0);
        Assert.Contains("What the Aspire dashboard stored", await File.ReadAllTextAsync(Path.Combine(results, "result.md")), StringComparison.Ordinal);

        // The Kafka broker runs inside the tool's Aspire host, yet its CPU is the system's, not the tool's.
        var bookings = result.GetProperty("phases").EnumerateArray().Last().GetProperty("costs");
        var byProcess = bookings.GetProperty("cpuMsPerOpByProcess");
        Assert.True(byProcess.GetProperty("kafka").GetDouble() > 0, byProcess.ToString());
        Assert.True(byProcess.GetProperty("load-tool").GetDouble() > 0, byProcess.ToString());
        // The run's services and stores are found (DCP, which starts them, leaves the tool's process tree).
        Assert.All(["booking-api", "saga-worker", "performance-stub", "postgres", "redis"],
            group => Assert.True(byProcess.TryGetProperty(group, out var ms) && ms.GetDouble() > 0, $"{group}: {byProcess}"));
        // The listing leaves out processes under half a microsecond per booking, so the sum may fall short by a few of them;
        // a tolerance, not a rounding to two places, which two near-equal values can land on either side of.
        Assert.Equal(byProcess.EnumerateObject().Where(p => p.Name != "load-tool").Sum(p => p.Value.GetDouble()), bookings.GetProperty("cpuMsPerOp").GetDouble(), 0.01);

        // The machine's busy time per booking holds every process's, the load tool's too (its window holds theirs: it is
        // read before them at a phase's start and after them at its end; a few hundredths allowed, as the machine's time
        // is counted in sampled ticks and a process's from its scheduler's clock), and little besides in this
        // collection, which runs alone.
        var machine = bookings.GetProperty("machineCpuMsPerOp").GetDouble();
        var busy = bookings.GetProperty("machineBusyShare").GetDouble();
        Assert.InRange(busy, 0.01, 1.0);
        // Both shares are divisions of whole ticks by one total: their sum may pass 1 by a rounding error, never more.
        Assert.InRange(bookings.GetProperty("machineStolenShare").GetDouble(), 0.0, 1.0 - busy + 1e-9);
        Assert.InRange(bookings.GetProperty("unchargedCpuMsPerOp").GetDouble(), -0.02, 0.5 * machine);
        Assert.True(machine >= byProcess.EnumerateObject().Sum(p => p.Value.GetDouble()) - 0.02, bookings.ToString());
    }

    [Fact]
    public async Task A_run_stopped_by_ctrl_c_stops_the_system_deletes_its_data_and_writes_no_result()
    {
        using var directory = new TestDirectory("loadtest-stopped");
        using var process = StartTool("--quick", "--duration", "60", "--modes", "lua", "--out", directory.Path);
        try
        {
            var lines = new List<string>();
            var measuring = new TaskCompletionSource();
            process.EnableRaisingEvents = true;
            process.Exited += (_, _) => measuring.TrySetException(new InvalidOperationException("The tool exited before its measured phase."));
            process.OutputDataReceived += (_, e) =>
            {
                lock (lines)
                {
                    lines.Add(e.Data ?? "");
                }
                if (e.Data?.Contains("lua holds", StringComparison.Ordinal) == true)
                {
                    measuring.TrySetResult();
                }
            };
            process.BeginOutputReadLine();
            var stderr = process.StandardError.ReadToEndAsync();
            await measuring.Task.WaitAsync(TimeSpan.FromMinutes(3));

            // The run's processes: DCP (which leaves the tool's tree, naming it in --monitor) and all it started.
            var started = RunProcesses.Of(process.Id);
            Assert.Contains(started, p => p.Name == "dcp");
            Assert.Contains(started, p => p.Name == "redis-server");
            Assert.Contains(started, p => p.Name == "postgres");

            // What a terminal's Ctrl-C sends, in the middle of a measured phase.
            using (var interrupt = Process.Start("kill", ["-INT", process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await interrupt.WaitForExitAsync();
            }
            await WaitForExitAsync(process, TimeSpan.FromMinutes(1), Task.FromResult(string.Join('\n', Snapshot(lines))), stderr);

            var output = string.Join('\n', Snapshot(lines));
            Assert.True(process.ExitCode == 130, $"exit {process.ExitCode}\n{output}\n{await stderr}");
            Assert.Contains("no result written", await stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("Unhandled exception", await stderr, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(directory.Path, "result.json")));
            var data = output.Split('\n').Single(l => l.StartsWith("Run data", StringComparison.Ordinal)).Split(": ")[1].Trim();
            Assert.False(Directory.Exists(data), $"{data} is left behind");
            // The tool waited for the system to stop: nothing of it outlives the tool by more than a moment.
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (started.Where(RunProcesses.IsRunning).ToList() is { Count: > 0 } left)
            {
                Assert.True(DateTime.UtcNow < deadline, $"Still running: {string.Join(", ", left.Select(p => $"{p.Pid} {p.Name}"))}");
                await Task.Delay(200);
            }
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    private static Process StartTool(params string[] arguments) =>
        Process.Start(new ProcessStartInfo("dotnet", [BuiltProjects.Assembly("Booking.LoadTest"), .. arguments])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = BuiltProjects.Root,
        })!;

    private static async Task WaitForExitAsync(Process process, TimeSpan limit, Task<string> stdout, Task<string> stderr)
    {
        using var timeout = new CancellationTokenSource(limit);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            // Leave nothing running, and show how far the tool got.
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            Assert.Fail($"The load tool did not finish within {limit}:\n{await stdout}\n{await stderr}");
        }
    }

    private static List<string> Snapshot(List<string> lines)
    {
        lock (lines)
        {
            return [.. lines];
        }
    }
}
