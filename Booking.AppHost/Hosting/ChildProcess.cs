using System.Collections.Concurrent;
using System.Diagnostics;

namespace Booking.AppHost.Hosting;

/// <summary>
/// A process the AppHost (or a test fixture) owns: output kept in a bounded buffer, stopped on dispose, and
/// killed by the kernel if the owner dies first (<c>setpriv --pdeathsig</c>), so nothing is ever left behind.
/// </summary>
public sealed partial class ChildProcess : IAsyncDisposable
{
    private const int MaxLines = 2000;

    // PR_SET_PDEATHSIG fires when the *thread* that forked the child exits. Every child is therefore started
    // from this one thread, which lives as long as the process.
    private static readonly BlockingCollection<Action> Launches = StartLauncher();

    private readonly ConcurrentQueue<string> _lines = new();
    private readonly Process _process;

    private readonly StopSignal _stopSignal;

    private ChildProcess(string name, Process process, StopSignal stopSignal)
    {
        Name = name;
        _process = process;
        _stopSignal = stopSignal;
    }

    public string Name { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int? ExitCode => _process.HasExited ? _process.ExitCode : null;

    /// <summary>The last lines the process wrote to stdout or stderr.</summary>
    public IReadOnlyList<string> Output => _lines.ToArray();

    public event Action<string>? LineWritten;

    /// <summary>
    /// Starts <paramref name="fileName"/>; as <paramref name="runAsUser"/> when given and this process is root.
    /// <paramref name="stopSignal"/> is what asks it to stop, both from <see cref="StopAsync"/> and when this process dies.
    /// </summary>
    public static ChildProcess Start(
        string name,
        string fileName,
        IEnumerable<string> arguments,
        IDictionary<string, string?>? environment = null,
        string? runAsUser = null,
        string? workingDirectory = null,
        StopSignal stopSignal = StopSignal.SigTerm)
    {
        var info = new ProcessStartInfo("setpriv")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        info.ArgumentList.Add("--pdeathsig");
        info.ArgumentList.Add(stopSignal.ToString().ToUpperInvariant());
        if (runAsUser is not null && Environment.IsPrivilegedProcess)
        {
            info.ArgumentList.Add($"--reuid={runAsUser}");
            info.ArgumentList.Add($"--regid={runAsUser}");
            info.ArgumentList.Add("--init-groups");
        }

        info.ArgumentList.Add("--");
        info.ArgumentList.Add(fileName);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        if (environment is not null)
        {
            foreach (var (key, value) in environment)
            {
                info.Environment[key] = value;
            }
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var child = new ChildProcess(name, process, stopSignal);
        process.OutputDataReceived += (_, e) => child.Append(e.Data);
        process.ErrorDataReceived += (_, e) => child.Append(e.Data);

        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Launches.Add(() =>
        {
            try
            {
                process.Start();
                started.SetResult();
            }
            catch (Exception exception)
            {
                started.SetException(exception);
            }
        });
        started.Task.GetAwaiter().GetResult();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>Runs a command to completion and returns its output; throws when it fails.</summary>
    public static async Task<string> RunAsync(string fileName, IEnumerable<string> arguments, string? runAsUser = null, CancellationToken cancellationToken = default)
    {
        await using var child = Start(Path.GetFileName(fileName), fileName, arguments, runAsUser: runAsUser);
        await child._process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        var output = string.Join('\n', child.Output);
        if (child._process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{fileName} exited with {child._process.ExitCode}:\n{output}");
        }

        return output;
    }

    public Task WaitForExitAsync(CancellationToken cancellationToken = default) => _process.WaitForExitAsync(cancellationToken);

    /// <summary>Asks the process to stop (its stop signal), and kills it if it has not within <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (_process.HasExited)
        {
            return;
        }

        try
        {
            Signal(_process.Id, (int)_stopSignal);
            using var timeout = new CancellationTokenSource(grace);
            await _process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            // Exited between the check and the signal.
        }
    }

    /// <summary>Kills the process at once (SIGKILL), as a crash would.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        _lines.Enqueue(line);
        while (_lines.Count > MaxLines && _lines.TryDequeue(out _))
        {
        }

        LineWritten?.Invoke(line);
    }

    private static void Signal(int pid, int signal)
    {
        if (Interop.Kill(pid, signal) != 0)
        {
            throw new InvalidOperationException($"kill({pid}, {signal}) failed.");
        }
    }

    private static BlockingCollection<Action> StartLauncher()
    {
        var queue = new BlockingCollection<Action>();
        var thread = new Thread(() =>
        {
            foreach (var launch in queue.GetConsumingEnumerable())
            {
                launch();
            }
        })
        {
            IsBackground = true,
            Name = "child-process-launcher",
        };
        thread.Start();
        return queue;
    }

    private static partial class Interop
    {
        [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
        internal static partial int Kill(int pid, int signal);
    }
}

/// <summary>The signals a child process may be asked to stop with; the values are Linux's signal numbers.</summary>
public enum StopSignal
{
    SigInt = 2,
    SigTerm = 15,
}
