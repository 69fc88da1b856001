using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace Microsoft.Extensions.Hosting;

/// <summary>Registers a shared <see cref="IConnectionMultiplexer"/> the way Aspire's Redis integration does.</summary>
public static class RedisClientExtensions
{
    public static IHostApplicationBuilder AddRedisClient(this IHostApplicationBuilder builder, string connectionName)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(connectionName);

        builder.Services.AddSingleton<IConnectionMultiplexer>(services =>
        {
            var connectionString = builder.Configuration.GetConnectionString(connectionName)
                ?? throw new InvalidOperationException(
                    $"ConnectionStrings:{connectionName} is missing. Run the system through Booking.AppHost or set ConnectionStrings__{connectionName}.");
            var options = ConfigurationOptions.Parse(connectionString);
            // Start even while Redis is still coming up; /health reports it until it is reachable.
            options.AbortOnConnectFail = false;
            return ConnectionMultiplexer.Connect(options);
        });

        builder.Services.AddHealthChecks()
            .AddRedis(services => services.GetRequiredService<IConnectionMultiplexer>(), name: connectionName);

        return builder;
    }
}
