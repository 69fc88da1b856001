using System.Text.Json;

namespace Booking.Tests.Distributed;

/// <summary>One span as the Aspire dashboard's telemetry API returns it (OTLP JSON), flattened.</summary>
public sealed record TelemetrySpan(string Service, string Name, string SpanId, string? ParentSpanId, IReadOnlyDictionary<string, string> Attributes, int Links);

public static class DashboardTelemetry
{
    /// <summary>The spans of one trace from <c>GET /api/telemetry/traces/{traceId}</c>; empty while the dashboard has none.</summary>
    public static async Task<List<TelemetrySpan>> GetTraceAsync(HttpClient dashboard, string traceId)
    {
        ArgumentNullException.ThrowIfNull(dashboard);
        var response = await dashboard.GetAsync($"/api/telemetry/traces/{traceId}");
        if (!response.IsSuccessStatusCode)
        {
            return [];
        }

        var spans = new List<TelemetrySpan>();
        var root = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        foreach (var resource in root.GetProperty("data").GetProperty("resourceSpans").EnumerateArray())
        {
            var service = Attributes(resource.GetProperty("resource")).GetValueOrDefault("service.name", "?");
            foreach (var scope in resource.GetProperty("scopeSpans").EnumerateArray())
            {
                foreach (var span in scope.GetProperty("spans").EnumerateArray())
                {
                    spans.Add(new TelemetrySpan(
                        service,
                        span.GetProperty("name").GetString()!,
                        span.GetProperty("spanId").GetString()!,
                        span.TryGetProperty("parentSpanId", out var parent) ? parent.GetString() : null,
                        Attributes(span),
                        span.TryGetProperty("links", out var links) ? links.GetArrayLength() : 0));
                }
            }
        }

        return spans;
    }

    /// <summary>Polls until the trace holds every span name in <paramref name="expected"/> (exports arrive every second).</summary>
    public static Task<List<TelemetrySpan>> WaitForTraceAsync(HttpClient dashboard, string traceId, IReadOnlyCollection<string> expected) =>
        WaitForTraceAsync(dashboard, traceId, expected, static _ => true);

    /// <summary>
    /// Polls until the trace holds every span name in <paramref name="expected"/> and <paramref name="whole"/> holds for it.
    /// Each service exports on its own schedule, so a child can reach the dashboard before its parent from another service.
    /// Fails if a name never shows; returns the last spans read if only <paramref name="whole"/> never held.
    /// </summary>
    public static async Task<List<TelemetrySpan>> WaitForTraceAsync(
        HttpClient dashboard, string traceId, IReadOnlyCollection<string> expected, Func<List<TelemetrySpan>, bool> whole)
    {
        ArgumentNullException.ThrowIfNull(whole);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var spans = await GetTraceAsync(dashboard, traceId);
            var seen = spans.Select(s => s.Name).ToHashSet();
            if (expected.All(seen.Contains) && whole(spans))
            {
                return spans;
            }

            if (DateTime.UtcNow >= deadline)
            {
                Assert.True(expected.All(seen.Contains), $"Trace {traceId} never showed all of {string.Join(", ", expected)}; it has: {string.Join(", ", seen)}.");
                return spans; // the caller asserts what "whole" checks, with its own message
            }

            await Task.Delay(500);
        }
    }

    /// <summary>The parent span ids that spans of the trace name but the trace does not hold (the caller's own span, at least).</summary>
    public static IReadOnlyList<string> MissingParents(IReadOnlyCollection<TelemetrySpan> spans)
    {
        ArgumentNullException.ThrowIfNull(spans);
        var ids = spans.Select(s => s.SpanId).ToHashSet(StringComparer.Ordinal);
        return [.. spans.Select(s => s.ParentSpanId).OfType<string>().Where(p => p.Length > 0 && !ids.Contains(p)).Distinct(StringComparer.Ordinal)];
    }

    private static Dictionary<string, string> Attributes(JsonElement element)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!element.TryGetProperty("attributes", out var attributes))
        {
            return result;
        }

        foreach (var attribute in attributes.EnumerateArray())
        {
            var value = attribute.GetProperty("value");
            result[attribute.GetProperty("key").GetString()!] = value.EnumerateObject().FirstOrDefault().Value.ToString();
        }

        return result;
    }
}
