using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Configuration;

namespace Booking.AppHost.Hosting;

/// <summary>
/// Redis, PostgreSQL and Kafka under the names the services read. A <c>ConnectionStrings:{name}</c> in the
/// AppHost's configuration points a name at an existing server instead; otherwise Redis and PostgreSQL run as
/// Aspire's containers where a container runtime answers and as the installed binaries where none does
/// (<c>AppHost:DataStores</c> = <c>Container</c> or <c>Executable</c> forces either), and Kafka is the
/// in-process mock cluster.
/// </summary>
public sealed class DataStores(IDistributedApplicationBuilder builder, AppHostSettings settings)
{
    private readonly Lazy<bool> _containers = new(() => settings.DataStores switch
    {
        DataStoreMode.Container => true,
        DataStoreMode.Executable => false,
        _ => ContainerRuntime.IsAvailable(builder.Configuration),
    });

    private readonly List<string> _missingPrograms = [];

    public bool UsesContainers => _containers.Value;

    /// <summary>
    /// The installed programs the executable stores added so far need and this machine lacks (a fresh machine before
    /// <c>scripts/setup.sh</c>): DCP would only fail to start them, one by one, deep in the dashboard.
    /// </summary>
    public IReadOnlyList<string> MissingPrograms => _missingPrograms;

    /// <summary>Why the AppHost does not start when <see cref="MissingPrograms"/> is not empty, and what to do.</summary>
    public string Refusal() =>
        $"The data stores run as installed programs here ({(settings.DataStores == DataStoreMode.Executable ? "AppHost:DataStores is Executable" : "no container runtime answers")}), " +
        $"and this machine lacks {string.Join(", ", _missingPrograms)}. Run scripts/setup.sh once (scripts/run.sh does; it installs them from apt), " +
        "or set AppHost:DataStores=Container where a container runtime runs.";

    /// <summary>
    /// Deletes what the AppHost keeps under <paramref name="dataDirectory"/>: the generated secrets and the data of
    /// the executable stores named <paramref name="stores"/>. Anything else there stays, so a data directory named by
    /// mistake loses nothing the AppHost did not put in it. Containers' volumes are Aspire's, not touched here.
    /// </summary>
    public static IReadOnlyList<string> DeleteData(string dataDirectory, params string[] stores)
    {
        var deleted = new List<string>();
        foreach (var folder in stores.Prepend(PersistedSecret.FolderName).Select(name => Path.Combine(dataDirectory, name)))
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
                deleted.Add(folder);
            }
        }

        return deleted;
    }

    public IResourceBuilder<IResourceWithConnectionString> AddRedis(string name)
    {
        if (External(name) is { } external)
        {
            return external;
        }

        if (UsesContainers)
        {
            return builder.AddRedis(name).WithDataVolume().WithPersistence(TimeSpan.FromSeconds(1));
        }

        Need(RedisExecutableResource.Program);
        return builder.AddRedisExecutable(name, settings);
    }

    /// <summary>
    /// The databases <paramref name="first"/> and <paramref name="second"/> on a PostgreSQL server named
    /// <paramref name="name"/>; either may be an external one instead (<c>ConnectionStrings:{database}</c>), and the
    /// server runs only for a database that is not.
    /// </summary>
    public (IResourceBuilder<IResourceWithConnectionString>, IResourceBuilder<IResourceWithConnectionString>) AddPostgres(string name, string first, string second)
    {
        var (firstExternal, secondExternal) = (External(first), External(second));
        if (firstExternal is not null && secondExternal is not null)
        {
            return (firstExternal, secondExternal);
        }

        if (UsesContainers)
        {
            var container = builder.AddPostgres(name).WithDataVolume();
            return (firstExternal ?? container.AddDatabase(first), secondExternal ?? container.AddDatabase(second));
        }

        foreach (var program in PostgresExecutableExtensions.Programs)
        {
            Need(program);
        }

        var server = builder.AddPostgresExecutable(name, settings);
        return (firstExternal ?? server.AddDatabase(first), secondExternal ?? server.AddDatabase(second));
    }

    public IResourceBuilder<IResourceWithConnectionString> AddKafka(string name, params string[] topics) =>
        External(name) ?? builder.AddKafkaMock(name, topics);

    /// <summary>Notes <paramref name="program"/> as missing unless it exists: by its path, or else on the PATH.</summary>
    private void Need(string program)
    {
        if (!ProcessRunner.IsInstalled(program) && !_missingPrograms.Contains(program))
        {
            _missingPrograms.Add(program);
        }
    }

    private IResourceBuilder<IResourceWithConnectionString>? External(string name) =>
        builder.Configuration.GetConnectionString(name) is null ? null : builder.AddConnectionString(name);
}
