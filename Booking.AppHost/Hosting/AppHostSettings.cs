using System.Globalization;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Text;
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

    /// <summary>Where embedded Redis and PostgreSQL keep their data and generated passwords; default <see cref="DefaultDataDirectory"/>.</summary>
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
            DataDirectory = section["DataDirectory"] is { Length: > 0 } configured
                ? Path.GetFullPath(configured)
                : DefaultDataDirectory(appHostDirectory, Environment.IsPrivilegedProcess),
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

    /// <summary>
    /// <c>.data/</c> at the repository root. Run as root, PostgreSQL runs as the <c>postgres</c> user, which must be able
    /// to enter every directory above its data: from a checkout it cannot enter (under <c>/root</c>, mode 700) the data
    /// goes to <c>/var/lib/booking/&lt;hash of the checkout's path&gt;</c> instead, one directory per checkout, where
    /// only root can make it (not the world-writable <c>/var/tmp</c>, where another user could make it first and plant
    /// its secrets). A <c>.data/</c> that already holds secrets stays in use: its passwords and data are the checkout's.
    /// </summary>
    public static string DefaultDataDirectory(string appHostDirectory, bool asRoot)
    {
        var repository = Path.GetFullPath(Path.Combine(appHostDirectory, ".."));
        var inCheckout = Path.Combine(repository, ".data");
        if (!asRoot || OperatingSystem.IsWindows() || EveryoneMayEnter(repository) || Directory.Exists(Path.Combine(inCheckout, PersistedSecret.FolderName)))
        {
            return inCheckout;
        }

        var checkout = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(repository)))[..12];
        return Path.Combine(RootDataFolder, checkout);
    }

    /// <summary>Where root's checkouts that the <c>postgres</c> user cannot enter keep their data by default.</summary>
    public const string RootDataFolder = "/var/lib/booking";

    /// <summary>Whether any user may enter <paramref name="directory"/> and every directory above it (others' execute bit).</summary>
    [UnsupportedOSPlatform("windows")]
    public static bool EveryoneMayEnter(string directory)
    {
        for (var entered = Path.GetFullPath(directory); entered is not null; entered = Path.GetDirectoryName(entered))
        {
            if ((File.GetUnixFileMode(entered) & UnixFileMode.OtherExecute) == 0)
            {
                return false;
            }
        }

        return true;
    }
}
