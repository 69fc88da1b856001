using System.Diagnostics;

namespace Booking.Tests.Infrastructure;

/// <summary>The built AppHost run as a process of its own, for what it does before any resource starts.</summary>
public static class AppHostProcess
{
    // The dotnet host by its full path, the environment given may leave none on the PATH: the one running these
    // tests, whose runtime is in its shared/Microsoft.NETCore.App/<version>/ folder.
    private static readonly string DotnetHost = Path.GetFullPath(Path.Combine(
        System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", "..", OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet"));

    /// <summary>
    /// Runs the AppHost with <paramref name="arguments"/> (and <paramref name="environment"/> over this process's) until
    /// it exits, for at most a minute: it is killed then, and its exit code is that of the kill.
    /// </summary>
    public static async Task<(int ExitCode, string Output, string Error)> RunToExitAsync(
        IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment, CancellationToken ct)
    {
        var start = new ProcessStartInfo(DotnetHost, [BuiltProjects.Assembly("Booking.AppHost"), .. arguments])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        using var appHost = Process.Start(start)!;
        var error = appHost.StandardError.ReadToEndAsync(ct);
        var output = appHost.StandardOutput.ReadToEndAsync(ct);
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            timeout.CancelAfter(TimeSpan.FromSeconds(60));
            try
            {
                await appHost.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                // Still running after a minute: killed below, and the exit code says so.
            }
            finally
            {
                if (!appHost.HasExited)
                {
                    appHost.Kill(entireProcessTree: true);
                    await appHost.WaitForExitAsync(CancellationToken.None);
                }
            }
        }

        return (appHost.ExitCode, await output, await error);
    }
}
