using ScottPlot;

namespace Booking.LoadTest;

/// <summary>PNG charts beside result.md: successful operations per second over each phase, and each phase's latency curve.</summary>
public static class Charts
{
    private const int Width = 1000;
    private const int Height = 520;

    public static IReadOnlyList<string> Write(RunResult result, string directory)
    {
        ArgumentNullException.ThrowIfNull(result);
        var throughput = Path.Combine(directory, "throughput.png");
        var latency = Path.Combine(directory, "latency.png");

        var plot = new Plot();
        foreach (var phase in result.Phases.Where(p => p.Timeline.Count > 0))
        {
            var line = plot.Add.Scatter(phase.Timeline.Select(t => (double)t.Second).ToArray(), phase.Timeline.Select(t => (double)t.Ok).ToArray());
            line.LegendText = phase.Name;
        }

        plot.Title("Successful operations per second (a hold; a booking completed with its event)");
        plot.XLabel("second of the phase");
        plot.YLabel("per second");
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(throughput, Width, Height);

        plot = new Plot();
        foreach (var phase in result.Phases.Where(p => p.Percentiles.Count > 0))
        {
            // x: the percentile on a "nines" scale, log10(1 / (1 - p)): 0 = p0, 1 = p90, 2 = p99, 3 = p99.9.
            var points = phase.Percentiles.Where(p => p.Percentile < 100).ToList();
            var line = plot.Add.Scatter(points.Select(p => Math.Log10(100 / (100 - p.Percentile))).ToArray(), points.Select(p => p.LatencyMs).ToArray());
            line.LegendText = phase.Name;
        }

        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            [0, 1, 2, 3, 4],
            ["p0", "p90", "p99", "p99.9", "p99.99"]);
        plot.Title("Latency by percentile");
        plot.XLabel("percentile");
        plot.YLabel("ms");
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SavePng(latency, Width, Height);
        return [throughput, latency];
    }
}
