using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;

namespace Booking.AppHost.Hosting;

/// <summary>Redis as Debian's <c>redis-server</c> run by DCP: what <c>AddRedis</c> is where no container runtime exists.</summary>
public sealed class RedisExecutableResource(string name, string dataDirectory, ParameterResource password)
    : ExecutableResource(name, Program, dataDirectory), IResourceWithConnectionString
{
    /// <summary>The server's program, found on the PATH.</summary>
    public const string Program = "redis-server";

    internal const string PrimaryEndpointName = "tcp";

    public string DataDirectory { get; } = dataDirectory;

    public ParameterResource PasswordParameter { get; } = password;

    public EndpointReference PrimaryEndpoint => new(this, PrimaryEndpointName);

    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"{PrimaryEndpoint.Property(EndpointProperty.HostAndPort)},password={PasswordParameter}");

    /// <summary>The server's settings file: the password stays out of the process arguments the dashboard shows.</summary>
    public string ConfigFile => Path.Combine(DataDirectory, "redis.conf");

    /// <summary>The running server's pid, written by Redis itself (<c>pidfile</c>) and removed when it stops cleanly.</summary>
    public string PidFile => Path.Combine(DataDirectory, "redis.pid");
}

public static class RedisExecutableExtensions
{
    /// <summary>
    /// A loopback <c>redis-server</c> with a generated password, AOF (fsync every second) under
    /// <c>{data}/{name}</c>, and a health check that keeps checking, so a killed Redis shows Unhealthy.
    /// </summary>
    public static IResourceBuilder<RedisExecutableResource> AddRedisExecutable(this IDistributedApplicationBuilder builder, string name, AppHostSettings settings)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(settings);
        var dataDirectory = Path.Combine(settings.DataDirectory, name);
        var password = builder.AddParameter($"{name}-password", PersistedSecret.Password(settings.DataDirectory, $"{name}-password"), secret: true);
        var redis = new RedisExecutableResource(name, dataDirectory, password.Resource);
        var port = settings.Port(FreePort.Next());

        builder.Eventing.Subscribe<BeforeResourceStartedEvent>(redis, async (_, cancellationToken) =>
        {
            Directory.CreateDirectory(dataDirectory);
            await ProcessRunner.WaitForPreviousServerAsync(redis.PidFile, "redis-server", "Redis", cancellationToken).ConfigureAwait(false);
            var secret = await redis.PasswordParameter.GetValueAsync(cancellationToken).ConfigureAwait(false);
            await PrivateFile.WriteAllLinesAsync(redis.ConfigFile,
            [
                $"port {port}",
                "bind 127.0.0.1",
                "protected-mode yes",
                $"requirepass {Quoted(secret)}",
                $"dir {Quoted(dataDirectory)}",
                // Written while it runs (removed on a clean stop), so that the next start waits for it to be gone.
                $"pidfile {Quoted(redis.PidFile)}",
                "save \"\"",
                $"appendonly {(settings.Durable ? "yes" : "no")}",
                "appendfsync everysec",
                "maxclients 10000",
                // Bounded, and never by evicting: a lost seat or hold key would be worse than a refused write (a 503).
                $"maxmemory {settings.RedisMaxMemoryMegabytes}mb",
                "maxmemory-policy noeviction",
            ], cancellationToken).ConfigureAwait(false);
        });

        string? connectionString = null;
        builder.Eventing.Subscribe<ConnectionStringAvailableEvent>(redis, async (_, cancellationToken) =>
            connectionString = await redis.ConnectionStringExpression.GetValueAsync(cancellationToken).ConfigureAwait(false));
        var healthCheck = $"{name}_check";
        builder.Services.AddHealthChecks().AddRedis(
            _ => connectionString ?? throw new InvalidOperationException($"{name} has no connection string yet."), name: healthCheck);

        return builder.AddResource(redis)
            .WithArgs(redis.ConfigFile)
            .WithLoopbackEndpoint(RedisExecutableResource.PrimaryEndpointName, port, "redis")
            .WithIconName("Database")
            .WithHealthCheck(healthCheck);
    }

    /// <summary>A value as redis.conf reads it whatever it holds (a path with spaces, a password with quotes): quoted, escaped.</summary>
    private static string Quoted(string? value) =>
        $"\"{(value ?? string.Empty).Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)}\"";
}
