namespace Booking.Tests.Infrastructure;

/// <summary>
/// A directory of one fixture's or test's own under the temp folder's <c>booking-tests</c>, for a server's data or a
/// tool's results, removed when disposed (after the servers using it have stopped).
/// </summary>
public sealed class TestDirectory(string prefix) : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "booking-tests", $"{prefix}-{Guid.NewGuid():N}");

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
            // Nothing was written.
        }
        catch (IOException)
        {
            // A server still closing its files: the OS cleans its temp folder later.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
