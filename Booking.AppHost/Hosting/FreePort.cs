using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Booking.AppHost.Hosting;

/// <summary>
/// Loopback ports for resources that start later. A port is chosen now but bound only when its resource starts,
/// seconds later (after what it waits for); meanwhile nothing else may take it. So ports come from below the
/// kernel's ephemeral range (outgoing connections never get them), walking up from a random start (two processes
/// choosing at once rarely meet), and none is handed out twice by one process, nor the dashboard's fixed ports.
/// </summary>
public static class FreePort
{
    private const int Lowest = 10_000;

    /// <summary>The dashboard's fixed ports (its UI and OTLP, launchSettings.json): bound after the stores' ports are chosen.</summary>
    private static readonly int[] Reserved = [18_888, 18_889];

    private static readonly Lock Gate = new();
    private static readonly int Highest = EphemeralRangeStart() - 1;
    private static int _next = Random.Shared.Next(Lowest, Highest);
    private static int _handedOut;

    /// <summary>A loopback TCP port nobody listens on right now, and not handed out before by this process.</summary>
    public static int Next()
    {
        lock (Gate)
        {
            for (var tried = 0; tried < Highest - Lowest; tried++)
            {
                var port = _next;
                _next = _next >= Highest ? Lowest : _next + 1;
                if (!Reserved.Contains(port) && IsFree(port))
                {
                    _handedOut++;
                    return port;
                }
            }

            throw new InvalidOperationException($"No free loopback port between {Lowest} and {Highest} after {_handedOut} handed out.");
        }
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>The first port the kernel hands to outgoing connections (Linux's <c>ip_local_port_range</c>; IANA's 49152 elsewhere).</summary>
    private static int EphemeralRangeStart()
    {
        const string range = "/proc/sys/net/ipv4/ip_local_port_range";
        if (File.Exists(range)
            && int.TryParse(File.ReadAllText(range).Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries)[0], NumberStyles.None, CultureInfo.InvariantCulture, out var start)
            && start > Lowest + 1_000)
        {
            return start;
        }

        return 49_152;
    }
}
