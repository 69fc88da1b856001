using System.Diagnostics;
using Microsoft.Extensions.Configuration;

namespace Booking.AppHost.Hosting;

/// <summary>Whether the container runtime Aspire would use (docker, or ASPIRE_CONTAINER_RUNTIME) is installed and answers.</summary>
public static class ContainerRuntime
{
    public static bool IsAvailable(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var runtime = configuration["ASPIRE_CONTAINER_RUNTIME"] ?? configuration["DOTNET_ASPIRE_CONTAINER_RUNTIME"] ?? "docker";
        if (!ProcessRunner.IsInstalled(runtime))
        {
            return false;
        }

        try
        {
            using var info = Process.Start(new ProcessStartInfo(runtime, "info")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            // An installed CLI without a running engine fails fast; a hung one counts as absent.
            if (!info.WaitForExit(TimeSpan.FromSeconds(10)))
            {
                info.Kill(entireProcessTree: true);
                return false;
            }

            return info.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
