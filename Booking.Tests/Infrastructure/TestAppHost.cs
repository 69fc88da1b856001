using Aspire.Hosting;

namespace Booking.Tests.Infrastructure;

/// <summary>A bare Aspire app for tests that need only some of the AppHost's resources (DCP runs them, no dashboard).</summary>
public static class TestAppHost
{
    public static IDistributedApplicationBuilder CreateBuilder() =>
        DistributedApplication.CreateBuilder(new DistributedApplicationOptions
        {
            Args = [],
            // DCP's location is read from the AppHost assembly's metadata.
            AssemblyName = typeof(Booking.AppHost.Hosting.AppHostSettings).Assembly.GetName().Name,
            DisableDashboard = true,
        });
}
