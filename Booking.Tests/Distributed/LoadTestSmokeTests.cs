using System.Diagnostics;
using System.Text.Json;

namespace Booking.Tests.Distributed;

/// <summary>
/// Booking.LoadTest's quick mode end to end: it starts the whole system itself, runs every mode, audits, and
/// writes its report. A smoke check that the tool works and its audit is clean, not a timing assertion.
/// </summary>
[Collection(DistributedRun.Name)]
public sealed class LoadTestSmokeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_quick_run_of_the_load_tool_reports_every_mode_and_a_clean_audit()
    {
        var root = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", ".."));
#if DEBUG
        const string configuration = "Debug";
#else
        const string configuration = "Release";
#endif
        var tool = Path.Combine(root, "Booking.LoadTest", "bin", configuration, "net10.0", "Booking.LoadTest.dll");
        using var directory = new TestDirectory("loadtest");
        var results = directory.Path;

        using var process = Process.Start(new ProcessStartInfo("dotnet", [tool, "--quick", "--duration", "4", "--out", results])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = root,
        })!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            // Leave nothing running, and show how far the tool got.
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            Assert.Fail($"The load tool did not finish within 4 minutes:\n{await stdout}\n{await stderr}");
        }

        output.WriteLine(await stdout);

        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}\n{await stderr}");
        var result = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(results, "result.json"))).RootElement;
        Assert.True(result.GetProperty("auditClean").GetBoolean());
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
        Assert.Equal(byProcess.EnumerateObject().Where(p => p.Name != "load-tool").Sum(p => p.Value.GetDouble()), bookings.GetProperty("cpuMsPerOp").GetDouble(), 2);

        // The machine's busy time per booking holds every process's, the load tool's too (a few hundredths of skew
        // allowed: each process and the machine are read at slightly different moments), and little besides in this
        // collection, which runs alone.
        var machine = bookings.GetProperty("machineCpuMsPerOp").GetDouble();
        var busy = bookings.GetProperty("machineBusyShare").GetDouble();
        Assert.InRange(busy, 0.01, 1.0);
        Assert.InRange(bookings.GetProperty("machineStolenShare").GetDouble(), 0.0, 1.0 - busy);
        Assert.InRange(bookings.GetProperty("unchargedCpuMsPerOp").GetDouble(), -0.02, 0.5 * machine);
        Assert.True(machine >= byProcess.EnumerateObject().Sum(p => p.Value.GetDouble()) - 0.02, bookings.ToString());
    }
}
