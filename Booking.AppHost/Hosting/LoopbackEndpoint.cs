using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;

namespace Booking.AppHost.Hosting;

public static class LoopbackEndpoint
{
    /// <summary>
    /// The server's own port on 127.0.0.1, reached directly: a DCP proxy in front of Redis or PostgreSQL would be
    /// a second hop on every Lua call and every query.
    /// </summary>
    public static IResourceBuilder<T> WithLoopbackEndpoint<T>(this IResourceBuilder<T> builder, string name, int port, string scheme)
        where T : IResourceWithEndpoints =>
        builder.WithEndpoint(name, endpoint =>
        {
            endpoint.Port = port;
            endpoint.TargetPort = port;
            endpoint.IsProxied = false;
            endpoint.TargetHost = "127.0.0.1";
            endpoint.UriScheme = scheme;
        });
}
