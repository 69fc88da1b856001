[assembly: AssemblyFixture(typeof(NoConfigWatchers))]

namespace Booking.Tests.Infrastructure;

/// <summary>
/// No host the tests start, in this process or below it (DCP passes the environment on), watches its configuration
/// files. Each watcher is an inotify instance, and the suite's hosts and services together went past the kernel's
/// limit per user (128 by default): a service then died in <c>WebApplication.CreateBuilder</c>. Nothing the tests
/// run changes a configuration file while it runs.
/// </summary>
public sealed class NoConfigWatchers
{
    public NoConfigWatchers() => Environment.SetEnvironmentVariable("DOTNET_hostBuilder__reloadConfigOnChange", "false");
}
