using System.Net;
using Microsoft.Extensions.Configuration;

namespace Booking.AppHost.Hosting;

public static class DashboardAccess
{
    /// <summary>Whether the dashboard lets anyone in (ASPIRE_DASHBOARD_UNSECURED_ALLOW_ANONYMOUS); F5's launch profile does not.</summary>
    public static bool IsAnonymous(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        // Aspire still reads the older DOTNET_ names where the ASPIRE_ ones are not set.
        return configuration.GetValue<bool>("ASPIRE_DASHBOARD_UNSECURED_ALLOW_ANONYMOUS") || configuration.GetValue<bool>("DOTNET_DASHBOARD_UNSECURED_ALLOW_ANONYMOUS");
    }

    /// <summary>
    /// Anonymous access to the dashboard (and its telemetry API), when turned on, is a convenience on loopback only;
    /// bound to any other address it would show every trace and log to the network, so the AppHost refuses to start.
    /// </summary>
    public static void RequireLoopbackForAnonymous(IConfiguration configuration)
    {
        if (!IsAnonymous(configuration))
        {
            return;
        }

        // Every endpoint anonymous access opens: the UI, telemetry intake, and the resource service (which then runs
        // unsecured too: resource environments, logs and commands).
        string[] endpoints =
        [
            "ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL", "ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL", "ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL",
            "DOTNET_DASHBOARD_OTLP_HTTP_ENDPOINT_URL", "DOTNET_DASHBOARD_OTLP_ENDPOINT_URL", "DOTNET_RESOURCE_SERVICE_ENDPOINT_URL",
        ];
        var urls = (configuration["ASPNETCORE_URLS"] ?? string.Empty).Split(';', StringSplitOptions.RemoveEmptyEntries)
            .Concat(endpoints.Select(name => configuration[name]))
            .OfType<string>();
        foreach (var url in urls)
        {
            if (!IsLoopback(url))
            {
                throw new InvalidOperationException(
                    $"The dashboard allows anonymous access but listens on {url}. Bind it to 127.0.0.1 or turn ASPIRE_DASHBOARD_UNSECURED_ALLOW_ANONYMOUS off.");
            }
        }
    }

    public static string? DashboardUrl(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return (configuration["ASPNETCORE_URLS"] ?? string.Empty).Split(';', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
    }

    /// <summary>The dashboard's address with the browser token Aspire made for this run, which logs the browser in; the address alone when anonymous.</summary>
    public static string? LoginUrl(IConfiguration configuration)
    {
        var url = DashboardUrl(configuration);
        return url is not null && !IsAnonymous(configuration) && configuration["AppHost:BrowserToken"] is { Length: > 0 } token
            ? $"{url.TrimEnd('/')}/login?t={Uri.EscapeDataString(token)}"
            : url;
    }

    /// <summary>The key (header <c>x-api-key</c>) of the dashboard's telemetry API that Aspire made for this run; none when anonymous.</summary>
    public static string? TelemetryApiKey(IConfiguration configuration) =>
        IsAnonymous(configuration) ? null : configuration["AppHost:DashboardApiKey"] is { Length: > 0 } key ? key : null;

    private static bool IsLoopback(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri)
        && (uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address)));
}
