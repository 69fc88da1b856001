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

        var (exitCode, output, error) = await AppHostProcess.RunToExitAsync([$"--AppHost:DataDirectory={_data}", "--AppHost:Fresh=true"], null, ct);

        Assert.True(exitCode == 1, $"Exit code {exitCode}:\n{output}\n{error}");
        Assert.Contains($"Another AppHost is running with the data directory {_data}", error, StringComparison.Ordinal);
        Assert.Equal("the running one's data", await File.ReadAllTextAsync(kept, ct));
    }

    [Fact]
    public void A_lock_file_that_cannot_be_opened_is_not_taken_for_one_another_AppHost_holds()
    {
        MakeTheLockFileALoopOfLinks();

        var exception = Record.Exception(() => DataDirectoryLock.TryTake(_data)?.Dispose());

        Assert.True(exception is IOException, $"A lock file that is a loop of links read as {(exception is null ? "held by another AppHost" : exception.GetType().Name)}.");
    }

    [Fact]
    public async Task An_AppHost_whose_lock_file_is_a_loop_of_links_exits_at_once_saying_so()
    {
        MakeTheLockFileALoopOfLinks();

        await AssertUnusableAsync();
    }

    [Fact]
    public async Task An_AppHost_whose_data_directory_is_a_file_exits_at_once_saying_so()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_data)!);
        await File.WriteAllTextAsync(_data, "not a directory", TestContext.Current.CancellationToken);

        await AssertUnusableAsync();
    }

    private void MakeTheLockFileALoopOfLinks()
    {
        Directory.CreateDirectory(_data);
        var lockFile = Path.Combine(_data, DataDirectoryLock.FileName);
        File.CreateSymbolicLink(lockFile, lockFile);
    }

    private async Task AssertUnusableAsync()
    {
        var (exitCode, output, error) = await AppHostProcess.RunToExitAsync([$"--AppHost:DataDirectory={_data}", "--AppHost:Fresh=true"], null, TestContext.Current.CancellationToken);

        Assert.True(exitCode == 1, $"Exit code {exitCode}:\n{output}\n{error}");
        Assert.Contains($"The data directory {_data} cannot be used (", error, StringComparison.Ordinal);
        Assert.DoesNotContain("Waiting up to", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", error, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        if (Directory.Exists(_data))
        {
            Directory.Delete(_data, recursive: true);
        }
        else
        {
            File.Delete(_data);
        }
    }
}
