using Npgsql;
using NpgsqlTypes;

namespace Booking.Core.Data;

/// <summary>
/// Set-based statements sent as one round trip: each statement reads its rows from one array per column
/// (<c>unnest</c>), so a batch costs the same few statements however many rows it writes, instead of change
/// tracking's statement per row. Without a transaction, PostgreSQL runs the whole batch as one implicit transaction.
/// </summary>
public sealed class ColumnBatch(NpgsqlConnection connection, NpgsqlTransaction? transaction = null) : IAsyncDisposable
{
    private readonly NpgsqlBatch _batch = new(connection, transaction);

    /// <summary>The statement over <paramref name="rows"/>' column arrays; none when there are no rows.</summary>
    public NpgsqlBatchCommand? Add<TRow>(string sql, IReadOnlyCollection<TRow> rows, params object[] columns)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(columns);
        if (rows.Count == 0)
        {
            return null;
        }

        var command = new NpgsqlBatchCommand(sql);
        foreach (var column in columns)
        {
            command.Parameters.Add(column as NpgsqlParameter ?? new NpgsqlParameter { Value = column });
        }

        _batch.BatchCommands.Add(command);
        return command;
    }

    public Task ExecuteAsync(CancellationToken cancellationToken) => _batch.ExecuteNonQueryAsync(cancellationToken);

    public ValueTask DisposeAsync() => _batch.DisposeAsync();

    /// <summary>One column's values, in row order.</summary>
    public static T[] Values<TRow, T>(IEnumerable<TRow> rows, Func<TRow, T> value) => [.. rows.Select(value)];

    /// <summary>xmin values, sent as PostgreSQL's <c>xid</c> so they compare with the column.</summary>
    public static NpgsqlParameter Versions<TRow>(IEnumerable<TRow> rows, Func<TRow, uint> version) =>
        new() { Value = Values(rows, version), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Xid };
}
