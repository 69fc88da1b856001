using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;

namespace Booking.LoadTest;

/// <summary>What the Aspire dashboard stored of one phase's spans.</summary>
/// <param name="Stored">Spans that started in the phase and reached the dashboard's store.</param>
/// <param name="PerOpByName">For <see cref="DashboardStore.Tracked"/>: spans of that name stored per successful operation.</param>
public sealed record PhaseSpans(long Stored, double StoredPerSecond, double StoredPerOp, IReadOnlyDictionary<string, double> PerOpByName);

/// <summary>
/// How much of the services' telemetry reached the Aspire dashboard. Each service's OpenTelemetry exporter queues at
/// most 2,048 spans and drops what the dashboard has not taken by then, so under load the dashboard keeps only part
/// of what is made. The run's dashboard gets a data directory of its own; after the last phase, once its store has
/// stopped growing, the spans of each phase's window are counted there, read-only. The store's tables are the
/// dashboard's own, not a published contract: when they cannot be read the report says why and the run goes on.
/// </summary>
public static class DashboardStore
{
    /// <summary>Where the run's dashboard keeps its store: the dashboard's <c>Dashboard:Data:Directory</c> setting.</summary>
    public const string DataDirectorySetting = "Dashboard__Data__Directory";

    /// <summary>
    /// Spans that every successful operation of a phase makes exactly one of: a lua hold one <c>hold_seats</c> (the
    /// Lua call), a lua booking one <c>confirm_seats</c> and one <c>saga</c>. Stored per operation is the part kept.
    /// </summary>
    public static readonly string[] Tracked = ["hold_seats", "confirm_seats", "saga"];

    private static readonly TimeSpan SettleStep = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan SettleLimit = TimeSpan.FromSeconds(60);

    public sealed record Count(IReadOnlyDictionary<string, PhaseSpans> ByPhase, string? NotCounted)
    {
        /// <summary>The phases, each with what the dashboard stored of its spans.</summary>
        public List<PhaseResult> AddTo(IEnumerable<PhaseResult> phases) => [.. phases.Select(p => p with { Spans = ByPhase.GetValueOrDefault(p.Name) })];
    }

    public static async Task<Count> CountAsync(string dataDirectory, IReadOnlyList<PhaseResult> phases, CancellationToken cancellationToken)
    {
        Console.WriteLine("Counting what the dashboard stored of each phase's spans ...");
        var store = Directory.Exists(dataDirectory)
            ? Directory.EnumerateFiles(dataDirectory, "dashboard.db", SearchOption.AllDirectories).OrderByDescending(File.GetLastWriteTimeUtc).FirstOrDefault()
            : null;
        if (store is null)
        {
            return new Count(new Dictionary<string, PhaseSpans>(), $"no dashboard store under {dataDirectory}");
        }

        try
        {
            await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = store, Mode = SqliteOpenMode.ReadOnly }.ToString());
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await SettleAsync(connection, cancellationToken).ConfigureAwait(false);
            return new Count(await CountByPhaseAsync(connection, phases, cancellationToken).ConfigureAwait(false), null);
        }
        catch (SqliteException exception)
        {
            return new Count(new Dictionary<string, PhaseSpans>(), $"the dashboard's store could not be read ({exception.Message})");
        }
    }

    /// <summary>Waits until the exporters' last batches are in: the store has not grown for one step.</summary>
    private static async Task SettleAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        var started = TimeProvider.System.GetTimestamp();
        long? last = null;
        while (TimeProvider.System.GetElapsedTime(started) < SettleLimit)
        {
            await using var command = new SqliteCommand("SELECT coalesce(max(rowid), 0) FROM telemetry_spans", connection);
            var current = (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            if (current == last)
            {
                return;
            }

            last = current;
            await Task.Delay(SettleStep, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>One pass over the spans: each one counted in the phase whose window it started in.</summary>
    private static async Task<Dictionary<string, PhaseSpans>> CountByPhaseAsync(SqliteConnection connection, IReadOnlyList<PhaseResult> phases, CancellationToken cancellationToken)
    {
        var measured = phases.Where(p => p.Window is not null).ToList();
        var byPhase = new Dictionary<string, PhaseSpans>(StringComparer.Ordinal);
        if (measured.Count == 0)
        {
            return byPhase;
        }

        await using var command = connection.CreateCommand();
        var which = new StringBuilder("CASE");
        for (var i = 0; i < measured.Count; i++)
        {
            which.Append(CultureInfo.InvariantCulture, $" WHEN start_time_ticks >= $from{i} AND start_time_ticks < $to{i} THEN {i}");
            command.Parameters.AddWithValue($"$from{i}", measured[i].Window!.From.UtcTicks);
            command.Parameters.AddWithValue($"$to{i}", measured[i].Window!.To.UtcTicks);
        }

        which.Append(" END");
        command.CommandText = $"SELECT phase, name, count(*) FROM (SELECT {which} AS phase, name FROM telemetry_spans) WHERE phase IS NOT NULL GROUP BY phase, name";
        var counts = measured.Select(_ => new Dictionary<string, long>(StringComparer.Ordinal)).ToList();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                counts[reader.GetInt32(0)][reader.GetString(1)] = reader.GetInt64(2);
            }
        }

        for (var i = 0; i < measured.Count; i++)
        {
            var phase = measured[i];
            var stored = counts[i].Values.Sum();
            var ops = Math.Max(phase.Succeeded, 1);
            byPhase[phase.Name] = new PhaseSpans(
                stored,
                stored / Math.Max((phase.Window!.To - phase.Window.From).TotalSeconds, 0.001),
                (double)stored / ops,
                Tracked.ToDictionary(name => name, name => (double)counts[i].GetValueOrDefault(name) / ops, StringComparer.Ordinal));
        }

        return byPhase;
    }
}
