using System.Collections.Concurrent;
using HdrHistogram;

namespace Booking.LoadTest;

/// <summary>Latencies (HdrHistogram, microseconds) and outcomes of one phase, recorded by many virtual users.</summary>
public sealed class Measurements
{
    private readonly Lock _gate = new();
    private readonly LongHistogram _latency = new(TimeSpan.FromMinutes(2).Ticks / 10, 3);
    private long _ok;
    private long _failed;

    public ConcurrentDictionary<string, long> Errors { get; } = new(StringComparer.Ordinal);

    public long Ok => Interlocked.Read(ref _ok);

    public long Failed => Interlocked.Read(ref _failed);

    public void Success(TimeSpan latency)
    {
        Interlocked.Increment(ref _ok);
        Record(latency);
    }

    /// <summary>A request that was answered but did not succeed (409 seats taken, ...): counted, timed, and its code kept.</summary>
    public void Failure(TimeSpan latency, string code)
    {
        Interlocked.Increment(ref _failed);
        Errors.AddOrUpdate(code, 1, (_, n) => n + 1);
        Record(latency);
    }

    public PhaseResult Result(string name, TimeSpan elapsed)
    {
        lock (_gate)
        {
            var total = Ok + Failed;
            double Ms(double percentile) => total == 0 ? 0 : _latency.GetValueAtPercentile(percentile) / 1000.0;
            return new PhaseResult(
                name,
                total,
                Ok,
                Failed,
                elapsed.TotalSeconds,
                total / Math.Max(elapsed.TotalSeconds, 0.001),
                Ok / Math.Max(elapsed.TotalSeconds, 0.001),
                total == 0 ? 0 : _latency.GetMean() / 1000.0,
                Ms(50),
                Ms(90),
                Ms(95),
                Ms(99),
                total == 0 ? 0 : _latency.GetMaxValue() / 1000.0,
                Errors.OrderByDescending(e => e.Value).ToDictionary(e => e.Key, e => e.Value));
        }
    }

    private void Record(TimeSpan latency)
    {
        var micros = Math.Clamp(latency.Ticks / 10, 1, _latency.HighestTrackableValue);
        lock (_gate)
        {
            _latency.RecordValue(micros);
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
    PhaseCosts? Costs = null);
