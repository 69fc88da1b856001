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

    // What the operating system says when the lock is held: EWOULDBLOCK from flock on Linux (11) and macOS (35), a
    // sharing or lock violation on Windows. Any other failure (a read-only disk, a lock file that is a directory or a
    // loop of links) is not another AppHost, and must not be reported as one.
    private const int LinuxWouldBlock = 11;
    private const int MacWouldBlock = 35;
    private const int WindowsSharingViolation = unchecked((int)0x80070020);
    private const int WindowsLockViolation = unchecked((int)0x80070021);

    private static bool HeldElsewhere(IOException exception) =>
        OperatingSystem.IsWindows() ? exception.HResult is WindowsSharingViolation or WindowsLockViolation
        : exception.HResult == (OperatingSystem.IsMacOS() ? MacWouldBlock : LinuxWouldBlock);

    /// <summary>
    /// The directory's lock, or null when another AppHost (or anything) holds it. Throws <see cref="IOException"/> or
    /// <see cref="UnauthorizedAccessException"/> when the directory or its lock file cannot be made or opened at all.
    /// On a file system without <c>flock</c> the file opens unlocked (.NET ignores that failure), unprotected.
    /// </summary>
    public static DataDirectoryLock? TryTake(string dataDirectory)
    {
        Directory.CreateDirectory(dataDirectory);
        try
        {
            // FileShare.None is an exclusive, non-blocking lock of the open file (flock) on Linux and macOS.
            return new DataDirectoryLock(new FileStream(Path.Combine(dataDirectory, FileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
        }
        catch (IOException exception) when (HeldElsewhere(exception))
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

    /// <summary>Why the AppHost does not start when its data directory cannot be used at all.</summary>
    public static string Unusable(string dataDirectory, Exception exception) =>
        $"The data directory {dataDirectory} cannot be used ({exception.Message.TrimEnd('.')}). Mend it, or give the AppHost another directory (--AppHost:DataDirectory=<path>).";

    public void Dispose() => _file.Dispose();
}
