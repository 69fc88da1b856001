using System.Globalization;
using Booking.AppHost.Hosting;
using Npgsql;
using StackExchange.Redis;

namespace Booking.LoadTest;

/// <summary>
/// What a phase cost the whole system, per successful operation (a hold, or a booking completed with its event):
/// PostgreSQL commits (<c>pg_stat_database</c>, every database), Redis commands (<c>INFO stats</c>), and CPU time
/// per process group read from <c>/proc</c> (user + system time of every process of the system, which this one
/// started directly or not, with that of the children each has reaped, so a PostgreSQL backend that ends inside a
/// phase moves its time to the postmaster instead of taking it out of the sum). Beside them, the whole machine's from <c>/proc/stat</c>: how busy
/// its cores were (when they are busy throughout, CPU bounds the phase's rate), how much of their time the hypervisor
/// gave to other guests (steal), and the machine's busy CPU time per operation, which also holds the load tool's share
/// and what no process of the run is charged with: kernel threads (<c>ksoftirqd</c> among them) and anything else the
/// machine ran. Soft interrupts that run on the way out of a system call or an interrupt are charged by this kernel's
/// tick accounting to the process they interrupted, so most network work is in the processes' figures.
/// </summary>
public sealed record PhaseCosts(
    double PostgresCommitsPerOp,
    IReadOnlyDictionary<string, double> PostgresCommitsPerOpByDatabase,
    double RedisCommandsPerOp,
    double CpuMsPerOp,
    IReadOnlyDictionary<string, double> CpuMsPerOpByProcess,
    double MachineBusyShare,
    double MachineStolenShare,
    double MachineCpuMsPerOp,
    double UnchargedCpuMsPerOp);

public sealed class CostMeter(SystemUnderTest system) : IAsyncDisposable
{
    private static readonly double TicksPerSecond = 100; // USER_HZ on Linux

    /// <summary>This process: the load itself and the Aspire host of the run; shown, not counted as the system's.</summary>
    private const string LoadToolGroup = "load-tool";

    /// <summary>
    /// The Kafka mock cluster: part of the system, but it runs inside the Aspire host, so inside this process, on a
    /// thread of its own that librdkafka names <see cref="KafkaMockThread"/>; its time is moved out of the load tool's.
    /// </summary>
    private const string KafkaGroup = "kafka";

    private const string KafkaMockThread = "rdk:mock";

    /// <summary>Process groups by a marker in their command line, first match wins.</summary>
    private static readonly (string Group, string Marker)[] Groups =
    [
        ("booking-api", "Booking.Api"),
        ("saga-worker", "Booking.SagaWorker"),
        ("performance-stub", "Booking.PerformanceStub"),
        ("ceiling", "ceiling-server"),
        ("redis", "redis-server"),
        ("postgres", "postgres"),
        ("dashboard", "Aspire.Dashboard"),
        ("dcp", "dcp"),
    ];

    private readonly Lazy<Task<ConnectionMultiplexer>> _redis = new(() => ConnectionMultiplexer.ConnectAsync(system.ConnectionStrings["redis"] + ",allowAdmin=true"));

    /// <param name="MachineFirst">The machine's CPU read just before the processes', where a phase starts from.</param>
    /// <param name="MachineLast">The machine's CPU read just after the processes', where a phase ends: so the machine's
    /// window holds every process's, and what no process is charged with is not short by the time the reads took.</param>
    public sealed record Snapshot(IReadOnlyDictionary<string, long> Commits, long RedisCommands, IReadOnlyDictionary<string, double> CpuSeconds, MachineCpu MachineFirst, MachineCpu MachineLast);

    /// <summary>
    /// The machine's CPU time so far in ticks (USER_HZ), over all its cores: busy (user, nice, system, irq, softirq) and in all. Time
    /// the hypervisor gave to other guests (steal) counts in all but not as busy: it is not this machine's work.
    /// </summary>
    public sealed record MachineCpu(long BusyTicks, long StolenTicks, long TotalTicks);

    public async Task<Snapshot> TakeAsync()
    {
        await using var db = new NpgsqlConnection(system.ConnectionStrings["bookingdb"]);
        await db.OpenAsync().ConfigureAwait(false);
        // Every transaction counts, read-only ones too (each autocommitted SELECT is one).
        await using var command = new NpgsqlCommand("SELECT coalesce(datname, ''), xact_commit FROM pg_stat_database", db);
        var commits = new Dictionary<string, long>(StringComparer.Ordinal);
        await using (var reader = await command.ExecuteReaderAsync().ConfigureAwait(false))
        {
            while (await reader.ReadAsync().ConfigureAwait(false))
            {
                commits[reader.GetString(0)] = reader.GetInt64(1);
            }
        }

        var redis = await _redis.Value.ConfigureAwait(false);
        var info = await redis.GetServer(redis.GetEndPoints()[0]).InfoAsync("stats").ConfigureAwait(false);
        var redisCommands = long.Parse(info.SelectMany(g => g).First(p => p.Key == "total_commands_processed").Value, CultureInfo.InvariantCulture);
        var machineFirst = ReadMachineCpu();
        var cpu = CpuByGroup();
        return new Snapshot(commits, redisCommands, cpu, machineFirst, ReadMachineCpu());
    }

    public static PhaseCosts Between(Snapshot before, Snapshot after, long operations)
    {
        var ops = Math.Max(operations, 1);
        var byGroup = after.CpuSeconds.ToDictionary(
            g => g.Key,
            g => (g.Value - before.CpuSeconds.GetValueOrDefault(g.Key)) * 1000 / ops);
        var commits = after.Commits.ToDictionary(d => d.Key, d => (d.Value - before.Commits.GetValueOrDefault(d.Key)) / (double)ops);
        // Shares are whole ticks over whole ticks, so busy + stolen never passes 1 (a difference of seconds did by 4e-13).
        var busy = after.MachineLast.BusyTicks - before.MachineFirst.BusyTicks;
        var elapsed = after.MachineLast.TotalTicks - before.MachineFirst.TotalTicks;
        var machineMsPerOp = busy / TicksPerSecond * 1000 / ops;
        return new PhaseCosts(
            commits.Values.Sum(),
            commits.Where(d => d.Value >= 0.005).OrderByDescending(d => d.Value).ToDictionary(d => d.Key, d => d.Value),
            (after.RedisCommands - before.RedisCommands) / (double)ops,
            byGroup.Where(g => g.Key != LoadToolGroup).Sum(g => g.Value),
            byGroup.Where(g => g.Value > 0.0005).OrderByDescending(g => g.Value).ToDictionary(g => g.Key, g => g.Value),
            elapsed > 0 ? busy / (double)elapsed : 0,
            elapsed > 0 ? (after.MachineLast.StolenTicks - before.MachineFirst.StolenTicks) / (double)elapsed : 0,
            machineMsPerOp,
            machineMsPerOp - byGroup.Values.Sum());
    }

    /// <summary>
    /// The first line of <c>/proc/stat</c>: ticks of all cores in user, nice, system, idle, iowait, irq, softirq, steal
    /// (guest time is inside user and nice already).
    /// </summary>
    private static MachineCpu ReadMachineCpu()
    {
        var ticks = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8)
            .Select(field => long.Parse(field, CultureInfo.InvariantCulture)).ToArray();
        var (user, nice, system, idle, ioWait, irq, softIrq, steal) = (ticks[0], ticks[1], ticks[2], ticks[3], ticks[4], ticks[5], ticks[6], ticks[7]);
        var busy = user + nice + system + irq + softIrq;
        return new MachineCpu(busy, steal, busy + idle + ioWait + steal);
    }

    /// <summary>
    /// CPU seconds used so far by every process of the system, by group (this load tool counted apart): the processes
    /// of this run only (<see cref="RunProcesses"/>; the load tool runs the stores as executables, see
    /// <see cref="SystemUnderTest"/>, so DCP starts them too). So another program on the machine with a similar
    /// command line (a test run's services, say) counts in no group.
    /// </summary>
    private static Dictionary<string, double> CpuByGroup()
    {
        var totals = new Dictionary<string, double>(StringComparer.Ordinal);
        var self = Environment.ProcessId;
        foreach (var process in RunProcesses.Of(self))
        {
            var directory = $"/proc/{process.Pid.ToString(CultureInfo.InvariantCulture)}";
            try
            {
                if (process.Pid == self)
                {
                    var kafka = Directory.EnumerateDirectories(Path.Combine(directory, "task")).Sum(KafkaMockSeconds);
                    totals[KafkaGroup] = kafka;
                    totals[LoadToolGroup] = process.CpuTicks / TicksPerSecond - kafka;
                    continue;
                }

                if (GroupOf(File.ReadAllText(Path.Combine(directory, "cmdline")).Replace('\0', ' '), directory) is { } group)
                {
                    totals[group] = totals.GetValueOrDefault(group) + process.CpuTicks / TicksPerSecond;
                }
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or FormatException)
            {
                // The process ended while being read.
            }
        }

        return totals;
    }

    /// <summary>A thread's CPU seconds if it is the Kafka mock cluster's, else none (also when it ended while being read).</summary>
    private static double KafkaMockSeconds(string task)
    {
        try
        {
            return File.ReadAllText(Path.Combine(task, "comm")).StartsWith(KafkaMockThread, StringComparison.Ordinal) ? ThreadCpuSeconds(Path.Combine(task, "stat")) : 0;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>
    /// User + system seconds of a thread from its <c>stat</c> (fields 14 and 15, after the ')' that ends its name).
    /// Its fields 16 and 17, unlike a process's (<see cref="RunProcesses.Entry.CpuTicks"/>), are its whole process's.
    /// </summary>
    private static double ThreadCpuSeconds(string statPath)
    {
        var stat = File.ReadAllText(statPath);
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
    }

    private static string? GroupOf(string commandLine, string directory)
    {
        if (commandLine.Contains("Booking.LoadTest", StringComparison.Ordinal) && !commandLine.Contains("ceiling-server", StringComparison.Ordinal))
        {
            return null;
        }

        foreach (var (group, marker) in Groups)
        {
            if (commandLine.Contains(marker, StringComparison.Ordinal))
            {
                // The naive API is the same program as the product's; only its environment tells them apart.
                return group == "booking-api" && Environ(directory).Contains("Booking__HoldStrategy=naive", StringComparison.Ordinal) ? "booking-api-naive" : group;
            }
        }

        return null;
    }

    private static string Environ(string directory)
    {
        try
        {
            return File.ReadAllText(Path.Combine(directory, "environ")).Replace('\0', ' ');
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return string.Empty;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_redis.IsValueCreated)
        {
            (await _redis.Value.ConfigureAwait(false)).Dispose();
        }
    }
}
