using System.Globalization;

namespace Booking.AppHost.Hosting;

/// <summary>
/// The processes of a system that a program hosts in-process through Aspire.Hosting.Testing (the load tool, a test):
/// the program and its descendants, and the DCP API server's, which leaves the program's tree (init, or a subreaper,
/// adopts it) and names the program in <c>--monitor</c>; DCP starts every service, store and the dashboard. Another
/// program's system on the same machine, however alike its command lines, is none of them. Read from <c>/proc</c>.
/// </summary>
public static class RunProcesses
{
    /// <summary>
    /// One process: its start time (in clock ticks since boot) tells it apart from a later one with its pid.
    /// <paramref name="CpuTicks"/> is its user and system time so far, with that of the ended children it waited for:
    /// without them, a process ending inside a measured span takes all its time out of a sum over processes (a
    /// PostgreSQL backend a pool closed made a phase's CPU negative).
    /// </summary>
    public sealed record Entry(int Pid, int Parent, string Name, long StartTime, long CpuTicks);

    /// <summary>The processes of the system <paramref name="hostPid"/> hosts, the host included, at this moment.</summary>
    public static List<Entry> Of(int hostPid)
    {
        var all = new Dictionary<int, Entry>();
        var roots = new HashSet<int> { hostPid };
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && Read(pid) is { } entry)
            {
                all[pid] = entry;
                if (entry.Name == "dcp" && Monitors(pid, hostPid))
                {
                    roots.Add(pid);
                }
            }
        }

        return [.. all.Values.Where(entry => DescendsFrom(entry.Pid, roots, all))];
    }

    /// <summary>A process as it is now (fields 2, 4, 14-17 and 22 of its <c>stat</c>); none once it has ended, a zombie included.</summary>
    public static Entry? Read(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
            // "pid (name) state ppid ...": the name may hold spaces and parentheses, the fields after it do not.
            var nameEnd = stat.LastIndexOf(')');
            var fields = stat[(nameEnd + 2)..].Split(' ');
            return fields[0] == "Z"
                ? null
                : new Entry(pid, int.Parse(fields[1], CultureInfo.InvariantCulture), stat[(stat.IndexOf('(', StringComparison.Ordinal) + 1)..nameEnd],
                    long.Parse(fields[19], CultureInfo.InvariantCulture), Enumerable.Range(11, 4).Sum(field => long.Parse(fields[field], CultureInfo.InvariantCulture)));
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    /// <summary>Whether the process that <paramref name="entry"/> saw is still running (not a later one with its pid).</summary>
    public static bool IsRunning(Entry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return Read(entry.Pid)?.StartTime == entry.StartTime;
    }

    private static bool Monitors(int pid, int hostPid)
    {
        try
        {
            var arguments = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/cmdline").Split('\0');
            var monitor = Array.IndexOf(arguments, "--monitor");
            return monitor >= 0 && monitor + 1 < arguments.Length && arguments[monitor + 1] == hostPid.ToString(CultureInfo.InvariantCulture);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static bool DescendsFrom(int pid, HashSet<int> ancestors, Dictionary<int, Entry> all)
    {
        // A chain is a few processes long; the bound only guards against a cycle of reused process ids.
        var current = pid;
        for (var steps = 0; steps < 64; steps++)
        {
            if (ancestors.Contains(current))
            {
                return true;
            }

            if (!all.TryGetValue(current, out var entry))
            {
                return false;
            }

            current = entry.Parent;
        }

        return false;
    }
}
