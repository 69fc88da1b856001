using System.Collections.Concurrent;
using System.Diagnostics;

namespace Booking.Tests.Infrastructure;

/// <summary>Records every span of the named activity sources that ends while it lives, in this test process.</summary>
public sealed class SpanRecorder : IDisposable
{
    private readonly ActivityListener _listener;

    public SpanRecorder(params string[] sources)
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => sources.Contains(source.Name),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = Spans.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public ConcurrentQueue<Activity> Spans { get; } = new();

    /// <summary>The ended spans named <paramref name="operation"/>.</summary>
    public IEnumerable<Activity> Named(string operation) => Spans.Where(s => s.OperationName == operation);

    public void Dispose() => _listener.Dispose();
}
