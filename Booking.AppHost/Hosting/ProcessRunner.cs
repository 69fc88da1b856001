using System.Diagnostics;

namespace Booking.AppHost.Hosting;

/// <summary>
/// What a store needs before it starts: whether its program is installed, a short set-up command (chown, initdb) run to
/// completion, and the wait for a server of an earlier run still on its data.
/// </summary>
public static class ProcessRunner
{
    /// <summary>Whether <paramref name="program"/> exists: by its path when it has one, or else in a folder of the PATH.</summary>
    public static bool IsInstalled(string program) =>
        Path.IsPathRooted(program)
            ? File.Exists(program)
            : (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
                .Any(directory => File.Exists(Path.Combine(directory, program)));

    /// <summary>
    /// Waits (up to 30 s) until no <paramref name="program"/> process of an earlier run holds <paramref name="pidFile"/>:
    /// one still shutting down, or left running by an AppHost that was killed (its children are stopped only later), would
    /// otherwise share the data directory with the new server. A stale file (its process gone) does not count.
    /// </summary>
    public static async Task WaitForPreviousServerAsync(string pidFile, string program, string store, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await RunningServerAsync(pidFile, program, cancellationToken).ConfigureAwait(false) is { } pid)
        {
            if (DateTime.UtcNow >= deadline)
            {
                throw new InvalidOperationException(
                    $"A {store} server of an earlier run (process {pid}) still holds '{Path.GetDirectoryName(pidFile)}' after 30 s. Stop it (kill {pid}), then start again.");
            }

            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The pid in the file when a <paramref name="program"/> process runs under it; null for no file or a stale one.</summary>
    private static async Task<int?> RunningServerAsync(string pidFile, string program, CancellationToken cancellationToken)
    {
        try
        {
            var first = (await File.ReadAllLinesAsync(pidFile, cancellationToken).ConfigureAwait(false)).FirstOrDefault();
            return int.TryParse(first, System.Globalization.CultureInfo.InvariantCulture, out var pid)
                && (await File.ReadAllTextAsync($"/proc/{pid}/comm", cancellationToken).ConfigureAwait(false)).Trim() == program
                ? pid
                : null;
        }
        catch (IOException)
        {
            // No pid file, or its process is gone (both can vanish while read).
            return null;
        }
    }

    public static async Task RunAsync(string command, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(command) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{command} did not start.");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{command} {string.Join(' ', arguments)} exited with {process.ExitCode}:\n{await output.ConfigureAwait(false)}{await error.ConfigureAwait(false)}");
        }
    }
}
