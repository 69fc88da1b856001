using System.Runtime.InteropServices;
using Booking.LoadTest;

if (args is ["ceiling-server", ..])
{
    return await CeilingServer.RunAsync();
}

if (args is ["profile", var trace])
{
    return ProfileSummary.Run(trace);
}

LoadOptions options;
try
{
    options = LoadOptions.Parse(args);
}
catch (Exception exception) when (exception is ArgumentException or FormatException)
{
    Console.Error.WriteLine(exception.Message);
    return 64;
}

// Ctrl-C or SIGTERM stops the run: the phase under way ends, nothing of the run is reported, and the system is
// stopped and its data deleted before the tool exits with 128 + the signal's number, as a shell expects. A second
// signal exits at once (DCP, which watches this process, then stops what it started; the data stays).
using var stopping = new CancellationTokenSource();
var stoppedBy = 0;
void Stop(PosixSignalContext context, int exitCode)
{
    context.Cancel = true;
    if (Interlocked.CompareExchange(ref stoppedBy, exitCode, 0) != 0)
    {
        Console.Error.WriteLine("Stopped at once: the run's data directory is left behind.");
        Environment.Exit(exitCode);
    }

    Console.Error.WriteLine("Stopping: the run ends without a result; stopping the system (again to exit at once)...");
    stopping.Cancel();
}

using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => Stop(context, 130));
using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => Stop(context, 143));
try
{
    return await LoadRun.ExecuteAsync(options, stopping.Token);
}
catch (Exception exception) when (stopping.IsCancellationRequested)
{
    // Whatever the stop broke on its way (a request cut short, Redis or Kafka stopped under a phase) is its doing.
    Console.Error.WriteLine($"Stopped before the end ({exception.GetType().Name}); no result written.");
    return stoppedBy;
}
