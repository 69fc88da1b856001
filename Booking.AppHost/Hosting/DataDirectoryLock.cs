namespace Booking.AppHost.Hosting;

/// <summary>
/// One AppHost per data directory. Two would run two Redis servers on one append-only file and two PostgreSQL servers
/// against one cluster directory (the second refused, and the AppHost then waits for it for ever), and a second
/// started with <c>--fresh</c> would delete the first one's data under it. The lock is the operating system's (an
/// exclusive lock on <see cref="FileName"/>), so it goes with the process however that ends.
/// </summary>
public sealed class DataDirectoryLock : IDisposable
{
    public const string FileName = "apphost.lock";

    private readonly FileStream _file;

    private DataDirectoryLock(FileStream file) => _file = file;

    /// <summary>How long an AppHost waits for the one before it on the directory to finish stopping.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(100);

    /// <summary>The directory's lock, or null when another AppHost (or anything) holds it.</summary>
    public static DataDirectoryLock? TryTake(string dataDirectory)
    {
        Directory.CreateDirectory(dataDirectory);
        try
        {
            // FileShare.None is an exclusive, non-blocking lock of the open file (flock) on Linux and macOS.
            return new DataDirectoryLock(new FileStream(Path.Combine(dataDirectory, FileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>
    /// The directory's lock, waiting up to <paramref name="patience"/> for its holder to give it back (an AppHost
    /// started again at once while the last one still stops its stores); null when it was not given back by then.
    /// </summary>
    public static async Task<DataDirectoryLock?> TakeAsync(string dataDirectory, TimeSpan patience, Action onWait)
    {
        ArgumentNullException.ThrowIfNull(onWait);
        var deadline = DateTime.UtcNow + patience;
        var held = TryTake(dataDirectory);
        if (held is null)
        {
            onWait();
        }

        while (held is null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(Poll).ConfigureAwait(false);
            held = TryTake(dataDirectory);
        }

        return held;
    }

    /// <summary>Why the AppHost does not start, for whoever started it.</summary>
    public static string Refusal(string dataDirectory) =>
        $"Another AppHost is running with the data directory {dataDirectory}: stop it, or give this one a directory of its own (--AppHost:DataDirectory=<path>).";

    public void Dispose() => _file.Dispose();
}
