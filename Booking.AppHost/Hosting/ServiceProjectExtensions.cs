using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;

namespace Booking.AppHost.Hosting;

public static class ServiceProjectExtensions
{
    /// <summary>
    /// What every Booking service gets: its HTTP endpoint on <paramref name="port"/> (any free port with
    /// <c>AppHost:RandomPorts</c>), served directly rather than through DCP's proxy (a second hop on every
    /// request of the hot path), the AppHost's environment, the platform's token signing key, and <c>/health</c> as
    /// the health check the waits use.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithServiceDefaults(this IResourceBuilder<ProjectResource> project, AppHostSettings settings, int port,
        IResourceBuilder<ParameterResource> signingKey)
    {
        ArgumentNullException.ThrowIfNull(project);
        ArgumentNullException.ThrowIfNull(settings);
        var chosen = settings.Port(port);
        return project
            .WithHttpEndpoint(port: chosen, targetPort: chosen, isProxied: false)
            .WithEnvironment("DOTNET_ENVIRONMENT", project.ApplicationBuilder.Environment.EnvironmentName)
            .WithEnvironment("Booking__Auth__SigningKey", signingKey)
            .WithHttpHealthCheck("/health");
    }

    /// <summary>A link to the service's API reference (Scalar over its OpenAPI document) on its dashboard row.</summary>
    public static IResourceBuilder<ProjectResource> WithApiReference(this IResourceBuilder<ProjectResource> project)
    {
        ArgumentNullException.ThrowIfNull(project);
        return project.WithUrls(context =>
        {
            if (context.Urls.FirstOrDefault(u => u.Endpoint?.EndpointName == "http") is { } http)
            {
                context.Urls.Add(new ResourceUrlAnnotation { Url = $"{http.Url.TrimEnd('/')}/scalar", DisplayText = "API reference" });
            }
        });
    }
}
