using System.Globalization;
using Npgsql;

namespace Booking.AppHost.Hosting;

/// <summary>
/// The embedded PostgreSQL: <c>initdb</c> and <c>postgres</c> from the installed PostgreSQL 15 binaries, on a
/// loopback port with trust authentication on loopback only. PostgreSQL refuses to run as root, so as root it
/// runs as the <c>postgres</c> OS user on a data directory that user owns.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    public const string DefaultBinDirectory = "/usr/lib/postgresql/15/bin";
    private const string OsUser = "postgres";

    private readonly ChildProcess _process;

    private PostgresServer(ChildProcess process, int port, string dataDirectory)
    {
        _process = process;
        Port = port;
        DataDirectory = dataDirectory;
    }

    public int Port { get; }

    public string DataDirectory { get; }

    public ChildProcess Process => _process;

    // 24 connections per service and database, not Npgsql's 100: with 100 the services kept 200 PostgreSQL
    // backends busy on 2 cores (lua bookings 67/s -> 80/s in two otherwise equal 30 s runs, within run-to-run noise).
    public string ConnectionString(string database) =>
        $"Host=127.0.0.1;Port={Port};Username=postgres;Database={database};Maximum Pool Size=24;Timeout=15";

    /// <summary>Initialises the data directory if it is new, starts the server and waits until it accepts connections.</summary>
    /// <param name="durable">fsync on (the system's default); tests turn it off for speed.</param>
    /// <param name="maxConnections">Every service keeps a pool of up to 100; tests that host many services at once need more.</param>
    public static async Task<PostgresServer> StartAsync(string dataDirectory, int? port = null, bool durable = true, int maxConnections = 300, CancellationToken cancellationToken = default)
    {
        var bin = Environment.GetEnvironmentVariable("BOOKING_PG_BIN") ?? DefaultBinDirectory;
        var runAs = Environment.IsPrivilegedProcess ? OsUser : null;
        dataDirectory = Path.GetFullPath(dataDirectory);
        Directory.CreateDirectory(dataDirectory);
        if (runAs is not null)
        {
            await ChildProcess.RunAsync("chown", ["-R", $"{OsUser}:{OsUser}", dataDirectory], cancellationToken: cancellationToken).ConfigureAwait(false);
            await ChildProcess.RunAsync("chmod", ["700", dataDirectory], cancellationToken: cancellationToken).ConfigureAwait(false);
        }

        if (!File.Exists(Path.Combine(dataDirectory, "PG_VERSION")))
        {
            await ChildProcess.RunAsync(Path.Combine(bin, "initdb"),
                ["-D", dataDirectory, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
                runAs, cancellationToken).ConfigureAwait(false);
            // Trust on loopback only: the server listens on 127.0.0.1 and its own socket directory, nowhere else.
            await File.WriteAllTextAsync(Path.Combine(dataDirectory, "pg_hba.conf"),
                "local all all trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n", cancellationToken).ConfigureAwait(false);
        }

        var chosen = port ?? FreePort.Next();
        var arguments = new List<string>
        {
            "-D", dataDirectory,
            "-p", chosen.ToString(CultureInfo.InvariantCulture),
            "-k", dataDirectory,
            "-c", "listen_addresses=127.0.0.1",
            "-c", $"max_connections={maxConnections.ToString(CultureInfo.InvariantCulture)}",
            "-c", "shared_buffers=256MB",
        };
        if (!durable)
        {
            arguments.AddRange(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]);
        }

        // SIGINT is PostgreSQL's "fast" shutdown: it ends open sessions (pooled connections would keep a "smart"
        // SIGTERM shutdown waiting until it is killed) and still writes a clean checkpoint.
        var process = ChildProcess.Start("postgres", Path.Combine(bin, "postgres"), arguments, runAsUser: runAs, stopSignal: StopSignal.SigInt);
        var server = new PostgresServer(process, chosen, dataDirectory);
        await server.WaitUntilReadyAsync(TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false);
        return server;
    }

    /// <summary>Creates <paramref name="database"/> unless it exists.</summary>
    public async Task EnsureDatabaseAsync(string database, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(ConnectionString("postgres"));
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection) { Parameters = { new() { Value = database } } };
        if (await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is null)
        {
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{database.Replace("\"", "\"\"", StringComparison.Ordinal)}\"", connection);
            await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task WaitUntilReadyAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"postgres exited with {_process.ExitCode}:\n{string.Join('\n', _process.Output)}");
            }

            try
            {
                await using var connection = new NpgsqlConnection(ConnectionString("postgres") + ";Pooling=false");
                await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (NpgsqlException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Fast shutdown (SIGINT would be "fast"; SIGTERM is "smart" with a grace period, then kill).</summary>
    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
