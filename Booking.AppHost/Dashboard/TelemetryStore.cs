using System.Globalization;
using Booking.AppHost.Dashboard.Otlp;

namespace Booking.AppHost.Dashboard;

public sealed record SpanView(
    string TraceId,
    string SpanId,
    string? ParentSpanId,
    string Name,
    string Resource,
    string Scope,
    string Kind,
    DateTimeOffset Start,
    double DurationMs,
    bool IsError,
    string? StatusMessage,
    IReadOnlyDictionary<string, string> Attributes);

public sealed record TraceSummary(string TraceId, string RootName, IReadOnlyList<string> Resources, DateTimeOffset Start, double DurationMs, int SpanCount, bool HasError);

public sealed record LogView(
    long Id,
    DateTimeOffset Time,
    string Resource,
    string Category,
    string Level,
    string Message,
    string? TraceId,
    string? SpanId,
    IReadOnlyDictionary<string, string> Attributes);

public sealed record MetricPointView(DateTimeOffset Time, double Value, double? Count, double? Sum);

public sealed record MetricSeriesView(string Resource, string Name, string Unit, string Description, string Kind, string Attributes, IReadOnlyList<MetricPointView> Points);

/// <summary>
/// Telemetry the dashboard received over OTLP, kept in memory with hard bounds: past them the oldest spans, logs
/// and metric points are dropped, never the process.
/// </summary>
public sealed class TelemetryStore
{
    public const int MaxSpans = 100_000;
    public const int MaxLogs = 20_000;
    public const int MaxSeries = 2_000;
    public const int MaxPointsPerSeries = 360;

    private readonly Lock _gate = new();
    private readonly Queue<SpanView> _spans = new();
    private readonly Dictionary<string, List<SpanView>> _traces = new(StringComparer.Ordinal);
    private readonly Queue<LogView> _logs = new();
    private readonly Dictionary<string, Series> _series = new(StringComparer.Ordinal);
    private long _nextLogId;

    public long DroppedSpans { get; private set; }

    public void Add(ExportTraceServiceRequest request)
    {
        lock (_gate)
        {
            foreach (var resourceSpans in request.ResourceSpans)
            {
                var resource = ServiceName(resourceSpans.Resource);
                foreach (var scope in resourceSpans.ScopeSpans)
                {
                    foreach (var span in scope.Spans)
                    {
                        var view = new SpanView(
                            Hex(span.TraceId),
                            Hex(span.SpanId),
                            span.ParentSpanId.IsEmpty ? null : Hex(span.ParentSpanId),
                            span.Name,
                            resource,
                            scope.Scope?.Name ?? string.Empty,
                            KindName(span.Kind),
                            FromNanos(span.StartTimeUnixNano),
                            (span.EndTimeUnixNano - span.StartTimeUnixNano) / 1_000_000.0,
                            span.Status?.Code == 2,
                            span.Status?.Message is { Length: > 0 } message ? message : null,
                            Attributes(span.Attributes));
                        _spans.Enqueue(view);
                        if (!_traces.TryGetValue(view.TraceId, out var trace))
                        {
                            _traces[view.TraceId] = trace = [];
                        }

                        trace.Add(view);
                    }
                }
            }

            while (_spans.Count > MaxSpans)
            {
                var old = _spans.Dequeue();
                DroppedSpans++;
                if (_traces.TryGetValue(old.TraceId, out var trace) && trace.Remove(old) && trace.Count == 0)
                {
                    _traces.Remove(old.TraceId);
                }
            }
        }
    }

    public void Add(ExportLogsServiceRequest request)
    {
        lock (_gate)
        {
            foreach (var resourceLogs in request.ResourceLogs)
            {
                var resource = ServiceName(resourceLogs.Resource);
                foreach (var scope in resourceLogs.ScopeLogs)
                {
                    foreach (var record in scope.LogRecords)
                    {
                        var nanos = record.TimeUnixNano != 0 ? record.TimeUnixNano : record.ObservedTimeUnixNano;
                        _logs.Enqueue(new LogView(
                            ++_nextLogId,
                            FromNanos(nanos),
                            resource,
                            scope.Scope?.Name ?? string.Empty,
                            Level(record.SeverityNumber, record.SeverityText),
                            record.Body is null ? string.Empty : Text(record.Body),
                            record.TraceId.IsEmpty ? null : Hex(record.TraceId),
                            record.SpanId.IsEmpty ? null : Hex(record.SpanId),
                            Attributes(record.Attributes)));
                    }
                }
            }

            while (_logs.Count > MaxLogs)
            {
                _logs.Dequeue();
            }
        }
    }

    public void Add(ExportMetricsServiceRequest request)
    {
        lock (_gate)
        {
            foreach (var resourceMetrics in request.ResourceMetrics)
            {
                var resource = ServiceName(resourceMetrics.Resource);
                foreach (var scope in resourceMetrics.ScopeMetrics)
                {
                    foreach (var metric in scope.Metrics)
                    {
                        switch (metric.DataCase)
                        {
                            case Metric.DataOneofCase.Sum:
                                foreach (var point in metric.Sum.DataPoints)
                                {
                                    Record(resource, metric, "sum", point.Attributes, new MetricPointView(FromNanos(point.TimeUnixNano), Number(point), null, null));
                                }

                                break;
                            case Metric.DataOneofCase.Gauge:
                                foreach (var point in metric.Gauge.DataPoints)
                                {
                                    Record(resource, metric, "gauge", point.Attributes, new MetricPointView(FromNanos(point.TimeUnixNano), Number(point), null, null));
                                }

                                break;
                            case Metric.DataOneofCase.Histogram:
                                foreach (var point in metric.Histogram.DataPoints)
                                {
                                    var mean = point.Count == 0 ? 0 : (point.HasSum ? point.Sum : 0) / point.Count;
                                    Record(resource, metric, "histogram", point.Attributes, new MetricPointView(FromNanos(point.TimeUnixNano), mean, point.Count, point.HasSum ? point.Sum : null));
                                }

                                break;
                        }
                    }
                }
            }
        }
    }

    public IReadOnlyList<TraceSummary> Traces(string? resource, string? name, double? minDurationMs, bool? error, int limit)
    {
        lock (_gate)
        {
            return _traces.Values
                .Select(Summarize)
                .Where(t => resource is null || t.Resources.Contains(resource, StringComparer.Ordinal))
                .Where(t => name is null || _traces[t.TraceId].Any(s => s.Name.Contains(name, StringComparison.OrdinalIgnoreCase)))
                .Where(t => minDurationMs is null || t.DurationMs >= minDurationMs)
                .Where(t => error is null || t.HasError == error)
                .OrderByDescending(t => t.Start)
                .Take(limit)
                .ToList();
        }
    }

    public IReadOnlyList<SpanView>? Trace(string traceId)
    {
        lock (_gate)
        {
            return _traces.TryGetValue(traceId, out var spans) ? spans.OrderBy(s => s.Start).ToList() : null;
        }
    }

    public IReadOnlyList<LogView> Logs(string? resource, string? level, string? text, string? traceId, int limit)
    {
        lock (_gate)
        {
            return _logs
                .Where(l => resource is null || l.Resource == resource)
                .Where(l => level is null || LevelRank(l.Level) >= LevelRank(level))
                .Where(l => text is null || l.Message.Contains(text, StringComparison.OrdinalIgnoreCase) || l.Category.Contains(text, StringComparison.OrdinalIgnoreCase))
                .Where(l => traceId is null || l.TraceId == traceId)
                .Reverse()
                .Take(limit)
                .ToList();
        }
    }

    public IReadOnlyList<MetricSeriesView> Metrics(string? resource, string? name)
    {
        lock (_gate)
        {
            return _series.Values
                .Where(s => resource is null || s.Resource == resource)
                .Where(s => name is null || s.Name == name)
                .OrderBy(s => s.Name, StringComparer.Ordinal).ThenBy(s => s.Resource, StringComparer.Ordinal).ThenBy(s => s.Attributes, StringComparer.Ordinal)
                .Select(s => new MetricSeriesView(s.Resource, s.Name, s.Unit, s.Description, s.Kind, s.Attributes, s.Points.ToList()))
                .ToList();
        }
    }

    private void Record(string resource, Metric metric, string kind, IEnumerable<KeyValue> attributes, MetricPointView point)
    {
        var labels = string.Join(", ", Attributes(attributes).OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => $"{a.Key}={a.Value}"));
        var key = $"{resource}\n{metric.Name}\n{labels}";
        if (!_series.TryGetValue(key, out var series))
        {
            if (_series.Count >= MaxSeries)
            {
                return;
            }

            _series[key] = series = new Series(resource, metric.Name, metric.Unit, metric.Description, kind, labels);
        }

        series.Points.Enqueue(point);
        while (series.Points.Count > MaxPointsPerSeries)
        {
            series.Points.Dequeue();
        }
    }

    private TraceSummary Summarize(List<SpanView> spans)
    {
        var start = spans.Min(s => s.Start);
        var end = spans.Max(s => s.Start.AddMilliseconds(s.DurationMs));
        var ids = spans.Select(s => s.SpanId).ToHashSet(StringComparer.Ordinal);
        var root = spans.Where(s => s.ParentSpanId is null || !ids.Contains(s.ParentSpanId)).OrderBy(s => s.Start).First();
        return new TraceSummary(
            spans[0].TraceId,
            $"{root.Resource}: {root.Name}",
            spans.Select(s => s.Resource).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList(),
            start,
            (end - start).TotalMilliseconds,
            spans.Count,
            spans.Any(s => s.IsError));
    }

    private static string ServiceName(Resource? resource) =>
        resource?.Attributes.FirstOrDefault(a => a.Key == "service.name") is { } name ? Text(name.Value) : "unknown";

    private static Dictionary<string, string> Attributes(IEnumerable<KeyValue> attributes)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var attribute in attributes)
        {
            result[attribute.Key] = attribute.Value is null ? string.Empty : Text(attribute.Value);
        }

        return result;
    }

    private static string Text(AnyValue value) => value.ValueCase switch
    {
        AnyValue.ValueOneofCase.StringValue => value.StringValue,
        AnyValue.ValueOneofCase.BoolValue => value.BoolValue ? "true" : "false",
        AnyValue.ValueOneofCase.IntValue => value.IntValue.ToString(CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.DoubleValue => value.DoubleValue.ToString(CultureInfo.InvariantCulture),
        AnyValue.ValueOneofCase.ArrayValue => "[" + string.Join(", ", value.ArrayValue.Values.Select(Text)) + "]",
        AnyValue.ValueOneofCase.KvlistValue => "{" + string.Join(", ", value.KvlistValue.Values.Select(kv => $"{kv.Key}={(kv.Value is null ? string.Empty : Text(kv.Value))}")) + "}",
        AnyValue.ValueOneofCase.BytesValue => Convert.ToBase64String(value.BytesValue.Span),
        _ => string.Empty,
    };

    private static double Number(NumberDataPoint point) =>
        point.ValueCase == NumberDataPoint.ValueOneofCase.AsInt ? point.AsInt : point.AsDouble;

    private static string Hex(Google.Protobuf.ByteString bytes) => Convert.ToHexStringLower(bytes.Span);

    private static DateTimeOffset FromNanos(ulong nanos) => DateTimeOffset.UnixEpoch.AddTicks((long)(nanos / 100));

    private static string KindName(int kind) => kind switch
    {
        1 => "Internal",
        2 => "Server",
        3 => "Client",
        4 => "Producer",
        5 => "Consumer",
        _ => "Unspecified",
    };

    /// <summary>OTLP severity numbers: 1-4 trace, 5-8 debug, 9-12 info, 13-16 warn, 17-20 error, 21-24 fatal.</summary>
    private static string Level(int severity, string text) => severity switch
    {
        >= 21 => "Critical",
        >= 17 => "Error",
        >= 13 => "Warning",
        >= 9 => "Information",
        >= 5 => "Debug",
        >= 1 => "Trace",
        _ => string.IsNullOrEmpty(text) ? "Information" : text,
    };

    private static int LevelRank(string level) => level.ToUpperInvariant() switch
    {
        "TRACE" => 0,
        "DEBUG" => 1,
        "INFORMATION" or "INFO" => 2,
        "WARNING" or "WARN" => 3,
        "ERROR" => 4,
        "CRITICAL" or "FATAL" => 5,
        _ => 2,
    };

    private sealed class Series(string resource, string name, string unit, string description, string kind, string attributes)
    {
        public string Resource { get; } = resource;
        public string Name { get; } = name;
        public string Unit { get; } = unit;
        public string Description { get; } = description;
        public string Kind { get; } = kind;
        public string Attributes { get; } = attributes;
        public Queue<MetricPointView> Points { get; } = new();
    }
}
