using System.Text.Json;
using System.Text.Json.Serialization;
using Booking.AppHost.Dashboard.Otlp;
using Booking.AppHost.Hosting;
using Resource = Booking.AppHost.Hosting.Resource;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Booking.AppHost.Dashboard;

public sealed record ResourceView(
    string Name,
    string Type,
    string State,
    string Health,
    IReadOnlyList<string> Endpoints,
    string? ConnectionString,
    int Restarts,
    IReadOnlyList<string> WaitsFor);

/// <summary>
/// The AppHost's dashboard: an OTLP/HTTP (protobuf) receiver for the services' traces, logs and metrics, a JSON
/// API over them and over the resources, and the single-page UI that reads that API.
/// </summary>
public sealed class DashboardServer(IReadOnlyList<Resource> resources, int port) : IAsyncDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter() } };
    private WebApplication? _app;

    public TelemetryStore Telemetry { get; } = new();

    public int Port { get; } = port;

    public string Url => $"http://127.0.0.1:{Port}";

    /// <summary>Where services send OTLP (the exporter appends /v1/traces, /v1/logs, /v1/metrics).</summary>
    public string OtlpEndpoint => Url;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(Url);
        builder.Logging.ClearProviders();
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new JsonStringEnumConverter()));
        builder.Services.Configure<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>(o => o.Limits.MaxRequestBodySize = 32 * 1024 * 1024);
        var app = builder.Build();

        app.MapPost("/v1/traces", (HttpRequest request) => ReceiveAsync(request, ExportTraceServiceRequest.Parser, Telemetry.Add, new ExportTraceServiceResponse()));
        app.MapPost("/v1/logs", (HttpRequest request) => ReceiveAsync(request, ExportLogsServiceRequest.Parser, Telemetry.Add, new ExportLogsServiceResponse()));
        app.MapPost("/v1/metrics", (HttpRequest request) => ReceiveAsync(request, ExportMetricsServiceRequest.Parser, Telemetry.Add, new ExportMetricsServiceResponse()));

        app.MapGet("/api/resources", () => Results.Json(Resources(), Json));
        app.MapGet("/api/console/{name}", (string name) => resources.FirstOrDefault(r => r.Name == name) is { } resource
            ? Results.Json(resource.ConsoleOutput, Json)
            : Results.NotFound());
        app.MapGet("/api/traces", (string? resource, string? name, double? minDurationMs, bool? error, int? limit) =>
            Results.Json(Telemetry.Traces(Blank(resource), Blank(name), minDurationMs, error, Math.Clamp(limit ?? 100, 1, 1000)), Json));
        app.MapGet("/api/traces/{traceId}", (string traceId) => Telemetry.Trace(traceId) is { } spans ? Results.Json(spans, Json) : Results.NotFound());
        app.MapGet("/api/logs", (string? resource, string? level, string? text, string? traceId, int? limit) =>
            Results.Json(Telemetry.Logs(Blank(resource), Blank(level), Blank(text), Blank(traceId), Math.Clamp(limit ?? 200, 1, 2000)), Json));
        app.MapGet("/api/metrics", (string? resource, string? name) => Results.Json(Telemetry.Metrics(Blank(resource), Blank(name)), Json));

        app.MapGet("/", () => Asset("index.html", "text/html; charset=utf-8"));
        app.MapGet("/app.js", () => Asset("app.js", "text/javascript; charset=utf-8"));
        app.MapGet("/app.css", () => Asset("app.css", "text/css; charset=utf-8"));

        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        _app = app;
    }

    public IReadOnlyList<ResourceView> Resources() => resources
        .Select(r => new ResourceView(
            r.Name,
            r.Type,
            r.State.ToString(),
            r.Healthy ? "Healthy" : "Unhealthy",
            r.Endpoints,
            r.ConnectionString,
            r.Restarts,
            r.WaitsFor.Select(w => w.Name).ToList()))
        .ToList();

    private static async Task<IResult> ReceiveAsync<T>(HttpRequest request, MessageParser<T> parser, Action<T> store, IMessage response)
        where T : IMessage<T>
    {
        if (request.ContentType?.StartsWith("application/x-protobuf", StringComparison.OrdinalIgnoreCase) != true)
        {
            return Results.Problem("OTLP/HTTP with protobuf bodies (application/x-protobuf) only.", statusCode: StatusCodes.Status415UnsupportedMediaType);
        }

        using var body = new MemoryStream();
        await request.Body.CopyToAsync(body, request.HttpContext.RequestAborted).ConfigureAwait(false);
        T message;
        try
        {
            message = parser.ParseFrom(body.GetBuffer(), 0, (int)body.Length);
        }
        catch (InvalidProtocolBufferException exception)
        {
            return Results.Problem(exception.Message, statusCode: StatusCodes.Status400BadRequest);
        }

        store(message);
        return Results.Bytes(response.ToByteArray(), "application/x-protobuf");
    }

    private static IResult Asset(string name, string contentType)
    {
        var stream = typeof(DashboardServer).Assembly.GetManifestResourceStream($"dashboard.{name}");
        return stream is null ? Results.NotFound() : Results.Stream(stream, contentType);
    }

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync().ConfigureAwait(false);
            await _app.DisposeAsync().ConfigureAwait(false);
        }
    }
}
