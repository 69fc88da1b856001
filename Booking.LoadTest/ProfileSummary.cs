using System.Globalization;
using Microsoft.Diagnostics.Tracing.Etlx;

namespace Booking.LoadTest;

/// <summary>
/// <c>Booking.LoadTest profile TRACE.nettrace</c>: where a service's CPU went, by component, from a CPU-sampling trace
/// (<c>dotnet-trace collect-linux -p PID --profile cpu-sampling</c>). Each sample counts for the innermost frame
/// that names a component (JWT validation, a middleware, Redis client, spans, ...), looking through the kernel,
/// sockets and the thread pool to whoever called them, so a middleware's share is its own work, not its callees'.
/// JIT, GC and the telemetry exporter own everything beneath them.
/// </summary>
public static class ProfileSummary
{
    private static readonly (string Component, string[] Patterns)[] Components =
    [
        ("JIT", ["libclrjit"]),
        ("GC", ["gc_heap", "WKS::", "SVR::"]),
        ("telemetry export (OTLP)", ["OpenTelemetry.Exporter", "Otlp", "Grpc."]),
        ("spans", ["System.Diagnostics.Activity", "ActivitySource", "OpenTelemetry.Trace", "Instrumentation.AspNetCore", "HttpInListener", "Instrumentation.Http"]),
        ("metrics", ["System.Diagnostics.Metrics", "OpenTelemetry.Metrics", "AggregatorStore", "MetricReader"]),
        ("logging", ["Microsoft.Extensions.Logging", "OpenTelemetry.Logs"]),
        ("JWT validation", ["IdentityModel", "JsonWebToken", "JwtBearer"]),
        ("authorization", ["Authorization"]),
        ("rate limiter", ["RateLimiting"]),
        ("text check (StorableText)", ["StorableText"]),
        ("body limit (RequestBodyLimit)", ["RequestBodyLimit"]),
        ("idempotency", ["Idempotency"]),
        ("Lua engine", ["Booking.Core.Lua", "Booking.Core.Holds", "Booking.Core.Seats", "Booking.Core.Capacity"]),
        ("StackExchange.Redis", ["StackExchange.Redis", "Pipelines.Sockets"]),
        ("Npgsql and EF Core", ["Npgsql", "EntityFrameworkCore"]),
        ("Kafka client", ["Confluent.Kafka", "librdkafka"]),
        ("service code (Booking.*)", ["Booking."]),
        ("JSON", ["System.Text.Json"]),
        ("routing and endpoint binding", ["Microsoft.AspNetCore.Routing", "RequestDelegateFactory", "Http.Generated"]),
        ("HTTP client", ["System.Net.Http"]),
        ("Kestrel and ASP.NET Core", ["Kestrel", "Microsoft.AspNetCore"]),
        ("sockets", ["System.Net.Sockets", "SystemNative_", "libSystem.Native"]),
        ("kernel", ["vmlinux"]),
        ("thread pool and async", ["System.Threading", "System.Runtime.CompilerServices"]),
    ];

    /// <summary>Own everything beneath them: the exporter's HTTP/2 and serialization are the export's cost.</summary>
    private static readonly HashSet<string> Owners = ["JIT", "GC", "telemetry export (OTLP)"];

    /// <summary>Seen through: their cost belongs to whoever called them.</summary>
    private static readonly HashSet<string> Transparent = ["sockets", "kernel", "thread pool and async"];

    public static int Run(string path)
    {
        using var log = new TraceLog(TraceLog.CreateFromEventPipeDataFile(path));
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        long total = 0;
        foreach (var sample in log.Events)
        {
            if (sample.CallStack() is not { } stack)
            {
                continue;
            }

            total++;
            var component = Attribute(stack);
            counts[component] = counts.GetValueOrDefault(component) + 1;
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{total:N0} CPU samples with stacks in {Path.GetFileName(path)}"));
        Console.WriteLine();
        Console.WriteLine("| component | share of CPU |");
        Console.WriteLine("|---|---:|");
        foreach (var (component, count) in counts.OrderByDescending(c => c.Value))
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {component} | {100.0 * count / Math.Max(total, 1):0.0}% |"));
        }

        return total > 0 ? 0 : 1;
    }

    private static string Attribute(TraceCallStack stack)
    {
        for (var frame = stack; frame is not null; frame = frame.Caller)
        {
            var text = $"{frame.CodeAddress.ModuleName}!{frame.CodeAddress.FullMethodName}";
            if (Components.FirstOrDefault(c => Owners.Contains(c.Component) && c.Patterns.Any(p => text.Contains(p, StringComparison.Ordinal))).Component is { } owner)
            {
                return owner;
            }
        }

        string? seenThrough = null;
        for (var frame = stack; frame is not null; frame = frame.Caller)
        {
            var text = $"{frame.CodeAddress.ModuleName}!{frame.CodeAddress.FullMethodName}";
            foreach (var (component, patterns) in Components)
            {
                if (!patterns.Any(p => text.Contains(p, StringComparison.Ordinal)))
                {
                    continue;
                }

                if (!Transparent.Contains(component))
                {
                    return component;
                }

                seenThrough ??= component;
                break;
            }
        }

        return seenThrough ?? "other (unresolved frames)";
    }
}
