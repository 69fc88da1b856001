using System.Collections.Concurrent;
using System.Diagnostics;
using HdrHistogram;

namespace Booking.LoadTest;

/// <summary>Latencies (HdrHistogram, microseconds) and outcomes of one phase, recorded by many virtual users.</summary>
public sealed class Measurements
{
    private readonly Lock _gate = new();
    private readonly LongHistogram _latency = new(TimeSpan.FromMinutes(2).Ticks / 10, 3);
    private readonly Dictionary<int, (long Ok, long Failed, LongHistogram Latency)> _seconds = [];
    private long _started = Stopwatch.GetTimestamp();
    private long _ok;
    private long _failed;

    /// <summary>Where the phase's timeline starts (its second 0).</summary>
    public void Start() => _started = Stopwatch.GetTimestamp();

    public ConcurrentDictionary<string, long> Errors { get; } = new(StringComparer.Ordinal);

    public long Ok => Interlocked.Read(ref _ok);

    public long Failed => Interlocked.Read(ref _failed);

    public void Success(TimeSpan latency)
    {
        Interlocked.Increment(ref _ok);
        Record(latency, ok: true);
    }

    /// <summary>A request that was answered but did not succeed (409 seats taken, ...): counted, timed, and its code kept.</summary>
    public void Failure(TimeSpan latency, string code)
    {
        Interlocked.Increment(ref _failed);
        Errors.AddOrUpdate(code, 1, (_, n) => n + 1);
        Record(latency, ok: false);
    }

    /// <summary>A request that got no answer (the client's timeout, a refused connection): counted, but no latency to time.</summary>
    public void Unanswered(string code)
    {
        Interlocked.Increment(ref _failed);
        Errors.AddOrUpdate(code, 1, (_, n) => n + 1);
    }

    public PhaseResult Result(string name, TimeSpan elapsed)
    {
        lock (_gate)
        {
            var total = Ok + Failed;
            // Unanswered requests are counted but not timed: the histogram may be empty though the phase is not.
            var timed = _latency.TotalCount;
            double Ms(double percentile) => timed == 0 ? 0 : _latency.GetValueAtPercentile(percentile) / 1000.0;
            return new PhaseResult(
                name,
                total,
                Ok,
                Failed,
                elapsed.TotalSeconds,
                total / Math.Max(elapsed.TotalSeconds, 0.001),
                Ok / Math.Max(elapsed.TotalSeconds, 0.001),
                timed == 0 ? 0 : _latency.GetMean() / 1000.0,
                Ms(50),
                Ms(90),
                Ms(95),
                Ms(99),
                timed == 0 ? 0 : _latency.GetMaxValue() / 1000.0,
                Errors.OrderByDescending(e => e.Value).ToDictionary(e => e.Key, e => e.Value))
            {
                Timeline = _seconds.OrderBy(s => s.Key).Select(s => new TimelinePoint(
                    s.Key, s.Value.Ok, s.Value.Failed, s.Value.Latency.GetValueAtPercentile(50) / 1000.0, s.Value.Latency.GetValueAtPercentile(95) / 1000.0)).ToList(),
                Percentiles = timed == 0 ? [] : CurvePercentiles.Select(p => new PercentilePoint(p, _latency.GetValueAtPercentile(p) / 1000.0)).ToList(),
            };
        }
    }

    /// <summary>Where the latency curve is read: dense towards the tail.</summary>
    private static readonly double[] CurvePercentiles = [0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 100];

    private void Record(TimeSpan latency, bool ok)
    {
        var micros = Math.Clamp(latency.Ticks / 10, 1, _latency.HighestTrackableValue);
        var second = (int)Stopwatch.GetElapsedTime(_started).TotalSeconds;
        lock (_gate)
        {
            _latency.RecordValue(micros);
            if (!_seconds.TryGetValue(second, out var bucket))
            {
                bucket = (0, 0, new LongHistogram(_latency.HighestTrackableValue, 2));
            }

            bucket.Latency.RecordValue(micros);
            _seconds[second] = ok ? (bucket.Ok + 1, bucket.Failed, bucket.Latency) : (bucket.Ok, bucket.Failed + 1, bucket.Latency);
        }
    }
}

/// <summary>The reference table's metrics for one phase (ms), plus p99 and the error breakdown by code.</summary>
public sealed record PhaseResult(
    string Name,
    long Requests,
    long Succeeded,
    long Failed,
    double Seconds,
    double Throughput,
    double SuccessThroughput,
    double MeanMs,
    double MedianMs,
    double P90Ms,
    double P95Ms,
    double P99Ms,
    double MaxMs,
    IReadOnlyDictionary<string, long> Errors,
    PhaseCosts? Costs = null)
{
    /// <summary>Second by second from the phase's start: completions (by when they completed) and their latency.</summary>
    public IReadOnlyList<TimelinePoint> Timeline { get; init; } = [];

    /// <summary>The latency curve: the latency (ms) at each percentile.</summary>
    public IReadOnlyList<PercentilePoint> Percentiles { get; init; } = [];

    /// <summary>Bookings phases: where a completed booking's time went, stage by stage.</summary>
    public IReadOnlyList<StageResult> Stages { get; init; } = [];

    /// <summary>When the phase ran (UTC), for what is counted after the run by time.</summary>
    public PhaseWindow? Window { get; init; }

    /// <summary>What the Aspire dashboard stored of the spans made during the phase; none without a dashboard.</summary>
    public PhaseSpans? Spans { get; init; }
}

public sealed record PhaseWindow(DateTimeOffset From, DateTimeOffset To);

public sealed record TimelinePoint(int Second, long Ok, long Failed, double P50Ms, double P95Ms);

public sealed record PercentilePoint(double Percentile, double LatencyMs);
