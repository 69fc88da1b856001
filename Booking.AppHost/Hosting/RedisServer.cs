using StackExchange.Redis;

namespace Booking.AppHost.Hosting;

/// <summary>The embedded Redis: Debian's <c>redis-server</c> on a loopback port, data in its own directory.</summary>
public sealed class RedisServer : IAsyncDisposable
{
    private readonly ChildProcess _process;

    private RedisServer(ChildProcess process, int port, string dataDirectory)
    {
        _process = process;
        Port = port;
        DataDirectory = dataDirectory;
    }

    public int Port { get; }

    public string DataDirectory { get; }

    public ChildProcess Process => _process;

    public string ConnectionString => $"127.0.0.1:{Port}";

    /// <summary>Starts the server and waits until it answers PING.</summary>
    /// <param name="appendOnly">AOF on (the system's default); tests turn it off for speed.</param>
    public static async Task<RedisServer> StartAsync(string dataDirectory, int? port = null, bool appendOnly = true, CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(dataDirectory);
        var chosen = port ?? FreePort.Next();
        var process = ChildProcess.Start("redis", "redis-server",
        [
            "--port", chosen.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--bind", "127.0.0.1",
            "--dir", dataDirectory,
            "--save", string.Empty,
            "--appendonly", appendOnly ? "yes" : "no",
            "--appendfsync", "everysec",
            "--daemonize", "no",
            "--protected-mode", "yes",
            "--maxclients", "10000",
        ]);
        var server = new RedisServer(process, chosen, dataDirectory);
        await server.WaitUntilReadyAsync(TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        return server;
    }

    private async Task WaitUntilReadyAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"redis-server exited with {_process.ExitCode}:\n{string.Join('\n', _process.Output)}");
            }

            try
            {
                await using var connection = await ConnectionMultiplexer.ConnectAsync($"{ConnectionString},connectTimeout=1000,abortConnect=true").ConfigureAwait(false);
                await connection.GetDatabase().PingAsync().ConfigureAwait(false);
                return;
            }
            catch (RedisConnectionException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
