using System.Diagnostics;
using Booking.AppHost.Hosting;

namespace Booking.Tests.Hosting;

public sealed class DataDirectoryLockTests : IDisposable
{
    private readonly string _data = Path.Combine(Path.GetTempPath(), "booking-tests", "lock-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public void A_data_directory_is_taken_by_one_holder_at_a_time_and_free_again_once_given_back()
    {
        var first = DataDirectoryLock.TryTake(_data);
        Assert.NotNull(first);
        Assert.Null(DataDirectoryLock.TryTake(_data));

        first.Dispose();
        using var second = DataDirectoryLock.TryTake(_data);
        Assert.NotNull(second);
    }

    [Fact]
    public async Task A_second_AppHost_on_a_data_directory_in_use_exits_saying_why_and_deletes_nothing_even_when_fresh()
    {
        var ct = TestContext.Current.CancellationToken;
        var kept = Path.Combine(_data, "redis", "appendonly.aof");
        Directory.CreateDirectory(Path.GetDirectoryName(kept)!);
        await File.WriteAllTextAsync(kept, "the running one's data", ct);
        using var running = DataDirectoryLock.TryTake(_data);
        Assert.NotNull(running);

        var start = new ProcessStartInfo("dotnet", [BuiltProjects.Assembly("Booking.AppHost"), $"--AppHost:DataDirectory={_data}", "--AppHost:Fresh=true"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
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
            finally
            {
                if (!appHost.HasExited)
                {
                    appHost.Kill(entireProcessTree: true);
                }
            }
        }

        Assert.True(appHost.ExitCode == 1, $"Exit code {appHost.ExitCode}:\n{await output}\n{await error}");
        Assert.Contains($"Another AppHost is running with the data directory {_data}", await error, StringComparison.Ordinal);
        Assert.Equal("the running one's data", await File.ReadAllTextAsync(kept, ct));
    }

    public void Dispose()
    {
        if (Directory.Exists(_data))
        {
            Directory.Delete(_data, recursive: true);
        }
    }
}
