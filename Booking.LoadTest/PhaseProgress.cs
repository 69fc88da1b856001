using System.Diagnostics;
using System.Globalization;
using Spectre.Console;

namespace Booking.LoadTest;

/// <summary>
/// A phase's progress, once a second: a live table on a terminal (Spectre.Console), plain lines when the output is
/// redirected (CI logs, files), so logs stay readable and terminals stay calm.
/// </summary>
public static class PhaseProgress
{
    public sealed record Snapshot(TimeSpan Elapsed, int Users, long PerSecond, long Ok, long Failed, IReadOnlyDictionary<string, long> Errors);

    /// <summary>Reports until <paramref name="done"/> is cancelled.</summary>
    public static Task RunAsync(string phase, TimeSpan duration, Func<Snapshot> read, CancellationToken done) =>
        !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive
            ? LiveAsync(AnsiConsole.Console, phase, duration, read, done)
            : PlainAsync(Console.Out, phase, read, done);

    public static async Task PlainAsync(TextWriter output, string phase, Func<Snapshot> read, CancellationToken done)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(read);
        while (await TickAsync(done).ConfigureAwait(false))
        {
            var s = read();
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"  {phase,-18} {s.Elapsed.TotalSeconds,5:0}s  users {s.Users,4}  {s.PerSecond,7}/s  ok {s.Ok,8}  failed {s.Failed,7}")).ConfigureAwait(false);
        }
    }

    public static async Task LiveAsync(IAnsiConsole console, string phase, TimeSpan duration, Func<Snapshot> read, CancellationToken done)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(read);
        var table = new Table().Border(TableBorder.Rounded).Title(Markup.Escape(phase))
            .AddColumns("elapsed", "users", "per second", "ok", "failed", "errors");
        table.AddRow(Render(read(), duration));
        await console.Live(table).StartAsync(async context =>
        {
            while (await TickAsync(done).ConfigureAwait(false))
            {
                table.Rows.Clear();
                table.AddRow(Render(read(), duration));
                context.Refresh();
            }
        }).ConfigureAwait(false);
    }

    private static string[] Render(Snapshot s, TimeSpan duration)
    {
        var share = duration > TimeSpan.Zero ? Math.Clamp(s.Elapsed / duration, 0, 1) : 0;
        var bar = new string('#', (int)(share * 20)).PadRight(20, '.');
        var errors = s.Errors.Count == 0 ? "-" : string.Join(", ", s.Errors.OrderByDescending(e => e.Value).Take(3).Select(e => $"{e.Key} {e.Value}"));
        return
        [
            Markup.Escape($"[{bar}] {s.Elapsed.TotalSeconds:0}/{duration.TotalSeconds:0} s"),
            s.Users.ToString(CultureInfo.InvariantCulture),
            s.PerSecond.ToString("N0", CultureInfo.InvariantCulture),
            s.Ok.ToString("N0", CultureInfo.InvariantCulture),
            s.Failed == 0 ? "0" : $"[red]{s.Failed.ToString("N0", CultureInfo.InvariantCulture)}[/]",
            Markup.Escape(errors),
        ];
    }

    private static async Task<bool> TickAsync(CancellationToken done)
    {
        try
        {
            await Task.Delay(1000, done).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
