using System.Text;
using System.Text.RegularExpressions;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;

namespace Booking.AppHost.Hosting;

/// <summary>Starting a whole system from a test or a tool, and saying plainly why it did not come up.</summary>
public static partial class HealthyStart
{
    /// <summary>
    /// Starts the system and waits for every service to be healthy, all within <paramref name="timeout"/>. A service
    /// that stops during the start ends the wait at once (it is not restarted, and what waits for it would wait on).
    /// </summary>
    public static async Task StartHealthyAsync(this DistributedApplication app, IReadOnlyCollection<string> services, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var starting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        starting.CancelAfter(timeout);
        var up = UpAsync(app, services, starting.Token);
        var stopped = FirstStoppedAsync(app, services, starting.Token);
        try
        {
            var first = await Task.WhenAny(up, stopped).ConfigureAwait(false);
            // Aspire's own wait may see the stop first and fail with its DistributedApplicationException; either way
            // the caller is told which service stopped and its last words.
            var stoppedService = first == stopped && stopped.IsCompletedSuccessfully ? stopped.Result
                : up.Exception?.InnerException is DistributedApplicationException ? StoppedService(app, services) : null;
            if (stoppedService is not null)
            {
                throw new InvalidOperationException(await ReportAsync(app, $"{stoppedService} stopped during start-up").ConfigureAwait(false));
            }

            await up.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException(await ReportAsync(app, $"The system was not up within {timeout.TotalSeconds:0} s").ConfigureAwait(false));
        }
        finally
        {
            await starting.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(up, stopped).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
        }
    }

    private static async Task<string> FirstStoppedAsync(DistributedApplication app, IReadOnlyCollection<string> services, CancellationToken cancellationToken)
    {
        await foreach (var e in app.ResourceNotifications.WatchAsync(cancellationToken).ConfigureAwait(false))
        {
            if (services.Contains(e.Resource.Name) && HasStopped(e.Snapshot.State?.Text))
            {
                return e.Resource.Name;
            }
        }

        throw new OperationCanceledException(cancellationToken);
    }

    private static string? StoppedService(DistributedApplication app, IReadOnlyCollection<string> services) =>
        services.FirstOrDefault(service => app.ResourceNotifications.TryGetCurrentState(service, out var e)
            && HasStopped(e.Snapshot.State?.Text));

    /// <summary>Whether a resource in this state stopped for good (exited, finished, failed to start).</summary>
    private static bool HasStopped(string? state) => KnownResourceStates.TerminalStates.Contains(state);

    private static async Task UpAsync(DistributedApplication app, IReadOnlyCollection<string> services, CancellationToken cancellationToken)
    {
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        foreach (var service in services)
        {
            await app.ResourceNotifications.WaitForResourceHealthyAsync(service, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Every resource's state, and why each one that stopped did.</summary>
    private static async Task<string> ReportAsync(DistributedApplication app, string headline)
    {
        var resources = app.Services.GetRequiredService<DistributedApplicationModel>().Resources;
        var states = resources.ToDictionary(r => r, r => app.ResourceNotifications.TryGetCurrentState(r.Name, out var e) ? e.Snapshot.State?.Text : null);
        var report = new StringBuilder(headline).Append(": ")
            .AppendJoin(", ", states.Select(s => $"{s.Key.Name} {s.Value ?? "unknown"}")).Append('.');
        foreach (var (resource, _) in states.Where(s => HasStopped(s.Value)))
        {
            report.Append(await StopReasonAsync(app.Services, resource).ConfigureAwait(false));
        }

        return report.ToString();
    }

    /// <summary>
    /// Why a stopped resource stopped (resource logs are often not shown): the first error it logged with the lines after
    /// it, and its last lines.
    /// </summary>
    public static async Task<string> StopReasonAsync(IServiceProvider services, IResource resource)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(resource);
        const int Context = 12;
        string[] errorMarkers = [" fail: ", " crit: ", "Unhandled exception.", "FATAL:"];
        var lines = new List<string>();
        // DCP collects a process's output a moment after it is written: what a process said as it died comes last.
        await Task.Delay(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        using var reading = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await foreach (var batch in services.GetRequiredService<ResourceLoggerService>().GetAllAsync(resource).WithCancellation(reading.Token).ConfigureAwait(false))
            {
                lines.AddRange(batch.Select(line => AnsiEscapes().Replace(line.Content, "")));
            }
        }
        catch (OperationCanceledException)
        {
            lines.Add("(log reading timed out)");
        }

        var firstError = lines.FindIndex(line => errorMarkers.Any(marker => line.Contains(marker, StringComparison.Ordinal)));
        var shown = firstError < 0 ? [] : lines.Skip(firstError).Take(Context).Append("...").ToList();
        shown.AddRange(lines.Skip(Math.Max(firstError + Context, lines.Count - Context)));
        return $"{Environment.NewLine}--- {resource.Name}: its first error and its last lines ---{Environment.NewLine}{string.Join(Environment.NewLine, shown)}";
    }

    [GeneratedRegex(@"\x1b\[[0-9;]*m")]
    private static partial Regex AnsiEscapes();
}
