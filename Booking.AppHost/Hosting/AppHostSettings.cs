using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace Booking.AppHost.Hosting;

/// <summary>How Redis and PostgreSQL run: as Aspire's containers, or as the installed binaries under DCP.</summary>
public enum DataStoreMode
{
    /// <summary>Containers where a container runtime answers, executables otherwise.</summary>
    Auto,
    Container,
    Executable,
}

/// <summary>
/// The AppHost's own settings (section <c>AppHost</c>: command line <c>--AppHost:Key=value</c>, environment
/// <c>AppHost__Key</c>). The defaults are the developer's F5; tests and the load tool override them.
/// </summary>
public sealed record AppHostSettings
{
    public const string SectionName = "AppHost";

    /// <summary>Where embedded Redis and PostgreSQL keep their data and generated passwords; default <c>.data/</c> at the repository root.</summary>
    public required string DataDirectory { get; init; }

    public DataStoreMode DataStores { get; init; } = DataStoreMode.Auto;

    /// <summary>Services on any free loopback port instead of 5080/5090/5100 (tests, the load tool).</summary>
    public bool RandomPorts { get; init; }

    /// <summary>fsync and AOF on (default). Tests turn durability off for speed; benchmarks never do.</summary>
    public bool Durable { get; init; } = true;

    /// <summary>
    /// Start from empty data (<c>scripts/run.sh --fresh</c>): the executable stores' data and the generated secrets
    /// under <see cref="DataDirectory"/> are deleted before anything starts (<see cref="DataStores.DeleteData"/>).
    /// </summary>
    public bool Fresh { get; init; }

    /// <summary>The performance service's <c>/_chaos</c> endpoint, for fault tests only; off by default.</summary>
    public bool Chaos { get; init; }

    /// <summary>Redis's memory bound; past it writes are refused (noeviction), never keys dropped.</summary>
    public int RedisMaxMemoryMegabytes { get; init; } = 1024;

    /// <summary>PostgreSQL's <c>max_connections</c>: every service keeps a pool per database.</summary>
    public int PostgresMaxConnections { get; init; } = 500;

    public static AppHostSettings From(IConfiguration configuration, string appHostDirectory)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection(SectionName);
        return new AppHostSettings
        {
            DataDirectory = Path.GetFullPath(section["DataDirectory"] ?? Path.Combine(appHostDirectory, "..", ".data")),
            DataStores = Enum.TryParse<DataStoreMode>(section["DataStores"], ignoreCase: true, out var mode) ? mode : DataStoreMode.Auto,
            RandomPorts = section.GetValue<bool>("RandomPorts"),
            Durable = section.GetValue("Durable", true),
            Fresh = section.GetValue<bool>("Fresh"),
            Chaos = section.GetValue<bool>("Chaos"),
            PostgresMaxConnections = section.GetValue("PostgresMaxConnections", 500),
            RedisMaxMemoryMegabytes = section.GetValue("RedisMaxMemoryMegabytes", 1024),
        };
    }

    public int Port(int preferred) => RandomPorts ? FreePort.Next() : preferred;
}
