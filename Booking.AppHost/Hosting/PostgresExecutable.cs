using System.Globalization;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Booking.AppHost.Hosting;

/// <summary>
/// PostgreSQL 15 from Debian's binaries run by DCP: what <c>AddPostgres</c> is where no container runtime exists.
/// PostgreSQL refuses to run as root, so as root it runs as the <c>postgres</c> OS user.
/// </summary>
public sealed class PostgresExecutableResource(string name, string command, string dataDirectory, ParameterResource password)
    : ExecutableResource(name, command, dataDirectory), IResourceWithConnectionString
{
    internal const string PrimaryEndpointName = "tcp";

    public string DataDirectory { get; } = dataDirectory;

    public ParameterResource PasswordParameter { get; } = password;

    public EndpointReference PrimaryEndpoint => new(this, PrimaryEndpointName);

    public List<PostgresExecutableDatabaseResource> Databases { get; } = [];

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create(
        $"Host={PrimaryEndpoint.Property(EndpointProperty.Host)};Port={PrimaryEndpoint.Property(EndpointProperty.Port)};Username=postgres;Password={PasswordParameter}");
}

/// <summary>A database on <see cref="PostgresExecutableResource"/>, created when the server is ready.</summary>
public sealed class PostgresExecutableDatabaseResource(string name, string databaseName, PostgresExecutableResource parent)
    : Resource(name), IResourceWithParent<PostgresExecutableResource>, IResourceWithConnectionString
{
    public PostgresExecutableResource Parent { get; } = parent;

    public string DatabaseName { get; } = databaseName;

    // 24 connections per service and database, not Npgsql's 100: the services batch their writes, so a few
    // connections serve them, and every PostgreSQL backend beyond what the cores can run only adds switching.
    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"{Parent};Database={DatabaseName};Maximum Pool Size=24;Timeout=15");
}

public static class PostgresExecutableExtensions
{
    public const string BinDirectory = "/usr/lib/postgresql/15/bin";
    private const string OsUser = "postgres";
    private const string Shell = "bash";
    private static readonly string InitDb = Path.Combine(BinDirectory, "initdb");
    private static readonly string Server = Path.Combine(BinDirectory, "postgres");

    /// <summary>
    /// The programs the server's start runs: PostgreSQL 15's by their path, the rest found on the PATH; as root, those
    /// that run it as the <c>postgres</c> user too.
    /// </summary>
    public static IReadOnlyList<string> Programs => Environment.IsPrivilegedProcess
        ? [InitDb, Server, Shell, "setpriv", "runuser", "chown"]
        : [InitDb, Server, Shell];

    /// <summary>
    /// A loopback PostgreSQL with scram-sha-256 authentication (never trust) and a generated password, its data
    /// directory initialised under <c>{data}/{name}</c> on first start. The AppHost stops it with a fast
    /// shutdown (SIGINT): a smart one (SIGTERM) waits for every pooled client and ends in a kill.
    /// </summary>
    public static IResourceBuilder<PostgresExecutableResource> AddPostgresExecutable(this IDistributedApplicationBuilder builder, string name, AppHostSettings settings)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(settings);
        var dataDirectory = Path.Combine(settings.DataDirectory, name);
        var password = builder.AddParameter($"{name}-password", PersistedSecret.Password(settings.DataDirectory, $"{name}-password"), secret: true);
        var port = settings.Port(FreePort.Next());
        var asRoot = Environment.IsPrivilegedProcess;
        var postgres = new PostgresExecutableResource(name, Shell, dataDirectory, password.Resource);
        var arguments = Arguments(dataDirectory, port, settings, asRoot);

        builder.Eventing.Subscribe<BeforeResourceStartedEvent>(postgres, async (_, cancellationToken) =>
            await InitialiseAsync(postgres, asRoot, cancellationToken).ConfigureAwait(false));

        string? connectionString = null;
        builder.Eventing.Subscribe<ConnectionStringAvailableEvent>(postgres, async (_, cancellationToken) =>
            connectionString = await postgres.ConnectionStringExpression.GetValueAsync(cancellationToken).ConfigureAwait(false));
        builder.Eventing.Subscribe<ResourceReadyEvent>(postgres, async (e, cancellationToken) =>
        {
            await using var connection = new NpgsqlConnection(connectionString + ";Database=postgres;Pooling=false");
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            var notifications = e.Services.GetRequiredService<ResourceNotificationService>();
            foreach (var database in postgres.Databases)
            {
                await CreateDatabaseAsync(connection, database.DatabaseName, cancellationToken).ConfigureAwait(false);
                // A database has no process of its own: it runs once it exists; its health check says if it answers.
                await notifications.PublishUpdateAsync(database, s => s with { State = KnownResourceStates.Running, StartTimeStamp = DateTime.UtcNow }).ConfigureAwait(false);
            }
        });

        var healthCheck = $"{name}_check";
        builder.Services.AddHealthChecks().AddNpgSql(
            _ => (connectionString ?? throw new InvalidOperationException($"{name} has no connection string yet.")) + ";Database=postgres",
            name: healthCheck);

        return builder.AddResource(postgres)
            .WithArgs(arguments)
            .WithLoopbackEndpoint(PostgresExecutableResource.PrimaryEndpointName, port, "postgresql")
            .WithIconName("DatabaseMultiple")
            .WithHealthCheck(healthCheck);
    }

    /// <summary>
    /// bash running the server: it turns DCP's SIGTERM into PostgreSQL's fast shutdown; as root, setpriv execs the
    /// server as the postgres user.
    /// </summary>
    private static string[] Arguments(string dataDirectory, int port, AppHostSettings settings, bool asRoot)
    {
        const string Supervisor = "trap 'kill -INT $pid' TERM INT; \"$@\" & pid=$!; wait $pid; trap - TERM INT; wait $pid";
        List<string> arguments = ["-c", Supervisor, "postgres"];
        if (asRoot)
        {
            arguments.AddRange(["setpriv", $"--reuid={OsUser}", $"--regid={OsUser}", "--init-groups", "--"]);
        }

        arguments.AddRange(
        [
            Server, "-D", dataDirectory, "-p", port.ToString(CultureInfo.InvariantCulture), "-k", SocketDirectory(dataDirectory, port),
            "-c", "listen_addresses=127.0.0.1",
            "-c", $"max_connections={settings.PostgresMaxConnections.ToString(CultureInfo.InvariantCulture)}",
            "-c", "shared_buffers=256MB",
        ]);
        if (!settings.Durable)
        {
            arguments.AddRange(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]);
        }

        return [.. arguments];
    }

    /// <summary>
    /// Where the server's Unix socket goes: the data directory, unless the socket's path would pass the kernel's limit
    /// (107 bytes), as under a deep checkout; then none (an empty list), and clients use TCP on 127.0.0.1 as they do.
    /// </summary>
    private static string SocketDirectory(string dataDirectory, int port) =>
        System.Text.Encoding.UTF8.GetByteCount(Path.Combine(dataDirectory, $".s.PGSQL.{port}.lock")) <= MaxSocketPath ? dataDirectory : string.Empty;

    private const int MaxSocketPath = 107;

    public static IResourceBuilder<PostgresExecutableDatabaseResource> AddDatabase(this IResourceBuilder<PostgresExecutableResource> builder, string name)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var database = new PostgresExecutableDatabaseResource(name, name, builder.Resource);
        builder.Resource.Databases.Add(database);

        string? connectionString = null;
        builder.ApplicationBuilder.Eventing.Subscribe<ConnectionStringAvailableEvent>(database, async (_, cancellationToken) =>
            connectionString = await database.ConnectionStringExpression.GetValueAsync(cancellationToken).ConfigureAwait(false));
        var healthCheck = $"{name}_check";
        builder.ApplicationBuilder.Services.AddHealthChecks().AddNpgSql(
            _ => connectionString ?? throw new InvalidOperationException($"{name} has no connection string yet."), name: healthCheck);

        return builder.ApplicationBuilder.AddResource(database)
            .WithInitialState(new CustomResourceSnapshot { ResourceType = "PostgresDatabase", State = KnownResourceStates.Waiting, Properties = [] })
            .WithIconName("Database")
            .WithHealthCheck(healthCheck);
    }

    private static async Task InitialiseAsync(PostgresExecutableResource postgres, bool asRoot, CancellationToken cancellationToken)
    {
        var directory = postgres.DataDirectory;
        Directory.CreateDirectory(directory);
        if (asRoot)
        {
            RequireReachableByServerUser(directory);
            await ProcessRunner.RunAsync("chown", ["-R", $"{OsUser}:{OsUser}", directory], cancellationToken).ConfigureAwait(false);
        }

        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        // initdb reads the password from a file the server's user can read (beside the still empty data
        // directory, which initdb insists on); it is deleted right after, and at any later start, should an AppHost
        // killed during initdb have left it.
        var passwordFile = Path.Combine(Path.GetDirectoryName(directory)!, $".{postgres.Name}-initdb-password");
        if (File.Exists(Path.Combine(directory, "PG_VERSION")))
        {
            File.Delete(passwordFile);
            // A restart right after a stop (a dashboard command, a test) can find the previous server still finishing
            // its shutdown, holding the port and shared memory; starting over it fails.
            await ProcessRunner.WaitForPreviousServerAsync(Path.Combine(directory, "postmaster.pid"), "postgres", "PostgreSQL", cancellationToken).ConfigureAwait(false);
            return;
        }

        PrivateFile.WriteAllText(passwordFile, await postgres.PasswordParameter.GetValueAsync(cancellationToken).ConfigureAwait(false));
        try
        {
            List<string> initdb = [InitDb, "-D", directory, "-U", "postgres", "-A", "scram-sha-256",
                $"--pwfile={passwordFile}", "-E", "UTF8", "--locale=C.UTF-8"];
            if (asRoot)
            {
                await ProcessRunner.RunAsync("chown", [$"{OsUser}:{OsUser}", passwordFile], cancellationToken).ConfigureAwait(false);
                await ProcessRunner.RunAsync("runuser", ["-u", OsUser, "--", .. initdb], cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await ProcessRunner.RunAsync(initdb[0], initdb[1..], cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            File.Delete(passwordFile);
        }
    }

    /// <summary>
    /// As root, the server runs as the <c>postgres</c> user, which must be able to enter every directory above its data.
    /// A checkout under a home only its owner may enter (<c>/root</c> is <c>drwx------</c>) would otherwise fail in
    /// initdb with "Permission denied", deep in the log: this says what to do instead.
    /// </summary>
    private static void RequireReachableByServerUser(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        for (var parent = Path.GetDirectoryName(Path.GetFullPath(directory)); parent is not null; parent = Path.GetDirectoryName(parent))
        {
            if ((File.GetUnixFileMode(parent) & UnixFileMode.OtherExecute) == 0)
            {
                throw new InvalidOperationException(
                    $"PostgreSQL runs as the '{OsUser}' user when the AppHost runs as root, and that user cannot enter '{parent}'. " +
                    $"Keep the data in a directory it can reach: --AppHost:DataDirectory=/var/lib/booking/mine (or AppHost__DataDirectory), " +
                    $"or run from a checkout outside '{parent}', or as a user other than root.");
            }
        }
    }

    private static async Task CreateDatabaseAsync(NpgsqlConnection connection, string database, CancellationToken cancellationToken)
    {
        await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection) { Parameters = { new() { Value = database } } };
        if (await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is null)
        {
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{database.Replace("\"", "\"\"", StringComparison.Ordinal)}\"", connection);
            await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
