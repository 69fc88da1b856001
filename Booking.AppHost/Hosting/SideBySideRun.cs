namespace Booking.AppHost.Hosting;

/// <summary>
/// For tests and the load tool: the AppHost arguments of a system that runs beside others on this machine (another
/// test's system, the load tool's, an F5 session). Every port is its own: the services', the dashboard's UI, and both
/// of its OTLP endpoints, whose gRPC one otherwise defaults to <c>localhost:4317</c>, where one system would take
/// another's telemetry.
/// </summary>
public static class SideBySideRun
{
    /// <summary>The arguments, with the dashboard's UI at <paramref name="dashboardUrl"/>.</summary>
    public static string[] Arguments(string dashboardUrl) =>
    [
        "--AppHost:RandomPorts=true",
        // The services pick their own free ports; DCP would otherwise move the dashboard off the URL given here.
        "--DcpPublisher:RandomizePorts=false",
        $"ASPNETCORE_URLS={dashboardUrl}",
        $"ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL=http://127.0.0.1:{FreePort.Next()}",
        $"ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL=http://127.0.0.1:{FreePort.Next()}",
    ];
}
