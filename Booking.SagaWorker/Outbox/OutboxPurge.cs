using Booking.Core.Data;
using Microsoft.EntityFrameworkCore;

namespace Booking.SagaWorker.Outbox;

/// <summary>
/// Deletes outbox rows Kafka acknowledged longer ago than <c>Outbox:Retention</c> (7 days), and rows it refused for good
/// (quarantined) longer ago than <c>Outbox:QuarantineRetention</c> (30 days, for an operator to read them first): their
/// payloads are reservation snapshots with personal data, and the table would otherwise only grow. Unsent rows stay.
/// Runs every <c>Outbox:PurgeInterval</c> (10 minutes), the sent rows in bounded batches.
/// </summary>
public sealed partial class OutboxPurge(IServiceScopeFactory scopes, IConfiguration configuration, TimeProvider time, ILogger<OutboxPurge> logger) : BackgroundService
{
    private const int BatchSize = 5000;

    public TimeSpan Retention { get; } = Positive(configuration, "Outbox:Retention", TimeSpan.FromDays(7));

    public TimeSpan QuarantineRetention { get; } = Positive(configuration, "Outbox:QuarantineRetention", TimeSpan.FromDays(30));

    private readonly TimeSpan _interval = Positive(configuration, "Outbox:PurgeInterval", TimeSpan.FromMinutes(10));

    /// <summary>
    /// A setting's duration, refused at start-up unless above zero: a retention of zero or less would delete rows as
    /// soon as they went, and an interval of zero would stop the worker at its first tick.
    /// </summary>
    private static TimeSpan Positive(IConfiguration configuration, string setting, TimeSpan otherwise)
    {
        var value = configuration.GetValue(setting, otherwise);
        return value > TimeSpan.Zero ? value : throw new InvalidOperationException($"{setting} must be above zero; it is {value}.");
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_interval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                var purged = await PurgeAsync(stoppingToken).ConfigureAwait(false);
                if (purged > 0)
                {
                    LogPurged(purged);
                }
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                LogPurgeFailed(exception);
            }
        }
    }

    /// <summary>
    /// Deletes every row sent before the retention window, or quarantined before the quarantine's; returns how many.
    /// The sent rows: it walks the table in id order, which is the order rows were written in, and stops at the first
    /// row written inside the window: a row sent before the window was written before it, so the rows of the last
    /// days, most of the table, are never read. The quarantined rows, few, in one statement through their own index,
    /// whichever window is the longer.
    /// </summary>
    public async Task<int> PurgeAsync(CancellationToken cancellationToken)
    {
        var before = time.GetUtcNow() - Retention;
        var quarantinedBefore = time.GetUtcNow() - QuarantineRetention;
        var (total, after) = (0, 0L);
        while (true)
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<BookingDbContext>();
            var rows = await db.OutboxMessages.AsNoTracking()
                .Where(m => m.Id > after)
                .OrderBy(m => m.Id)
                .Select(m => new { m.Id, m.CreatedAt, m.SentAt })
                .Take(BatchSize)
                .ToListAsync(cancellationToken)
                .ConfigureAwait(false);
            var old = rows.TakeWhile(row => row.CreatedAt < before).ToList();
            var ids = old.Where(row => row.SentAt < before).Select(row => row.Id).ToArray();
            total += ids.Length == 0 ? 0 : await db.OutboxMessages.Where(m => ids.Contains(m.Id)).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
            if (old.Count < BatchSize)
            {
                return total + await db.OutboxMessages
                    .Where(m => m.QuarantinedAt != null && m.QuarantinedAt < quarantinedBefore)
                    .ExecuteDeleteAsync(cancellationToken)
                    .ConfigureAwait(false);
            }

            after = old[^1].Id;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Purged {Count} outbox rows sent (or quarantined) before the retention window")]
    private partial void LogPurged(int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox purge failed; it runs again at the next interval")]
    private partial void LogPurgeFailed(Exception exception);
}
