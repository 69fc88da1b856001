using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Booking.Tests.Infrastructure;

/// <summary>The booking API with a hook that runs a write of the test's right before one of the API's own queries.</summary>
public sealed class WritesMeanwhileApp(Dependencies dependencies) : BookingApp(dependencies)
{
    private readonly BeforeCommand _hook = new();
    private readonly WhenCommitFails _commitFailed = new();

    /// <summary>
    /// Runs <paramref name="write"/> right before each of the API's next <paramref name="times"/> commands whose SQL
    /// contains <paramref name="sql"/>.
    /// </summary>
    public void BeforeNextCommands(string sql, Func<Task> write, int times = 1) => _hook.Arm(sql, write, times);

    /// <summary>
    /// Runs <paramref name="write"/> once, when the API's next commit fails (PostgreSQL has rolled it back by then);
    /// null takes back what was asked and not done.
    /// </summary>
    public void WhenNextCommitFails(Func<Task>? write) => _commitFailed.Armed = write;

    protected override void ConfigureApiServices(IServiceCollection services) =>
        services.ConfigureDbContext<BookingDbContext>(options => options.AddInterceptors(_hook, _commitFailed));

    private sealed class WhenCommitFails : DbTransactionInterceptor
    {
        private Func<Task>? _armed;

        public Func<Task>? Armed { set => _armed = value; }

        public override async Task TransactionFailedAsync(DbTransaction transaction, TransactionErrorEventData eventData, CancellationToken cancellationToken = default)
        {
            if (eventData.Action == "Commit" && Interlocked.Exchange(ref _armed, null) is { } write)
            {
                await write();
            }
        }
    }

    private sealed class BeforeCommand : DbCommandInterceptor
    {
        private readonly Lock _lock = new();
        private (string Sql, Func<Task> Write, int Left)? _armed;

        public void Arm(string sql, Func<Task> write, int times)
        {
            lock (_lock)
            {
                _armed = (sql, write, times);
            }
        }

        public override async ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(
            DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default)
        {
            if (Take(command.CommandText) is { } write)
            {
                await write();
            }

            return result;
        }

        private Func<Task>? Take(string commandText)
        {
            lock (_lock)
            {
                if (_armed is not { } armed || !commandText.Contains(armed.Sql, StringComparison.Ordinal))
                {
                    return null;
                }

                _armed = armed.Left > 1 ? armed with { Left = armed.Left - 1 } : null;
                return armed.Write;
            }
        }
    }
}
