using System.Text;
using Booking.Core;
using Booking.Core.Data;
using Confluent.Kafka;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Booking.SagaWorker.Outbox;

/// <summary>
/// Publishes outbox rows to Kafka in insertion order, keyed by reservation id with the row's traceparent, and
/// marks a row sent only after Kafka acknowledged it. Each reservation's events are published in order although they
/// go to different topics: a row goes out only after the rows before it with its key were delivered. The producer is
/// idempotent with acks=all: while Kafka is down it keeps retrying (with librdkafka's backoff) for
/// <see cref="DefaultDeliveryTimeout"/> (<c>Outbox:DeliveryTimeout</c>); a row not delivered by then goes again, for
/// as long as it takes. A round waits for its deliveries while they keep settling; the slower ones stay in flight (at
/// most <see cref="MaxInFlight"/>), each holding back only its own key's later rows, and are marked when Kafka
/// acknowledges them. So nothing is lost, and a partition that takes nothing (no leader, its broker down) holds back
/// only the reservations whose events wait for it, until <see cref="MaxInFlight"/> rows wait; then all wait. The relay
/// is woken by the commit that adds rows (LISTEN on <see cref="OutboxMessage.NotifyChannel"/>), lingers a moment so the
/// rows of commits close together go out as one batch, and polls only as a safety net. An event Kafka refuses for good
/// (too large, invalid) is quarantined: kept with its error, counted by <c>booking.outbox.quarantined</c>, logged, and
/// no longer in the way of the events behind it. One Kafka fails at once for another reason (a topic it does not know,
/// or lets nobody write) goes again after a backoff, 1 s doubling to 30 s per failure in a row, kept in its row
/// (<see cref="OutboxMessage.NextAttemptAt"/>): meanwhile the relay reads neither it nor its reservation's later events,
/// and however many such rows wait, the others go on (such retries take at most <see cref="RetriesPerRound"/> of a round). One relay publishes at a time: a PostgreSQL advisory lock elects it. A
/// producer that hit a fatal error fails every message from then on, so the relay has it replaced and publishes the
/// unsent rows again through the new one.
/// </summary>
public sealed partial class OutboxRelay(
    IServiceScopeFactory scopes,
    KafkaProducerFactory producers,
    RelayLeadership leadership,
    IConfiguration configuration,
    TimeProvider time,
    ILogger<OutboxRelay> logger) : BackgroundService
{
    /// <summary>The setting of how long the producer tries to deliver an event before the relay gives it up (to send it again).</summary>
    public const string DeliveryTimeoutSetting = "Outbox:DeliveryTimeout";

    /// <summary>How long the producer tries to deliver an event, unless <see cref="DeliveryTimeoutSetting"/> says otherwise.</summary>
    public static readonly TimeSpan DefaultDeliveryTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The advisory lock whose holder leads (publishes); "Booking" in ASCII.</summary>
    public const long LeaderLockKey = 0x426F6F6B696E67;

    private const int BatchSize = 500;

    /// <summary>At most this many rows of a round are rows going again after a backoff; the rest are the others.</summary>
    private const int RetriesPerRound = 100;

    /// <summary>Rows left in flight by slow deliveries; past this many the relay reads no more until some settle.</summary>
    private const int MaxInFlight = 10 * BatchSize;

    /// <summary>How long a wave waits at most for its deliveries before it leaves the slow ones in flight and goes on.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(2);

    /// <summary>A wave in which no delivery settles for this long leaves the unsettled ones in flight and goes on.</summary>
    private static readonly TimeSpan Stall = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan Linger = TimeSpan.FromMilliseconds(5);
    private static readonly TimeSpan SafetyPoll = TimeSpan.FromSeconds(1);
    /// <summary>How long a stopping relay waits for the deliveries it left in flight.</summary>
    private static readonly TimeSpan FlushOnStop = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan LongestBackoff = TimeSpan.FromSeconds(30);

    // Rows whose delivery outlasted its wave's patience, by key (only the relay's loop touches it). A key stays here
    // until its row is marked sent or its delivery failed, so no read sends an acknowledged row again or a key's later
    // row before it.
    private readonly Dictionary<string, InFlight> _inFlight = new(StringComparer.Ordinal);

    // When the relay last warned of rows Kafka failed at once: a topic it refuses fails rows every round, and one
    // warning per longest backoff says so (the rest go to the debug log).
    private long? _warnedOfFailures;

    /// <summary>How many rows wait in flight for Kafka's answer (read from any thread: a moment's value).</summary>
    public int RowsInFlight => _inFlight.Count;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    if (!await LeadAsync(stoppingToken).ConfigureAwait(false))
                    {
                        await Task.Delay(TimeSpan.FromSeconds(2), stoppingToken).ConfigureAwait(false);
                    }
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception exception)
                {
                    // Unsent rows stay unsent; the next round publishes them again from the first one.
                    LogRelayFailed(exception);
                    await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            // Rows a lost leadership left in flight (a relay stopping while it leads has flushed its own already): those
            // Kafka acknowledged are marked, or the relay leading now would send them again.
            await FlushInFlightAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Publishes for as long as this worker holds the leader's lock, its session open; false if another relay leads. A
    /// relay stopping while it leads flushes what it left in flight before its session, and with it the lock, ends: so
    /// no relay taking over sends those rows again meanwhile.
    /// </summary>
    private async Task<bool> LeadAsync(CancellationToken stoppingToken)
    {
        await using var session = new NpgsqlConnection(LeadershipConnectionString(configuration.GetConnectionString("bookingdb")!));
        await session.OpenAsync(stoppingToken).ConfigureAwait(false);
        if (!await TryLeadAsync(session, stoppingToken).ConfigureAwait(false))
        {
            return false;
        }

        await using (var listen = new NpgsqlCommand($"LISTEN {OutboxMessage.NotifyChannel}", session))
        {
            await listen.ExecuteNonQueryAsync(stoppingToken).ConfigureAwait(false);
        }

        LogLeading();
        leadership.Leading = true;
        // A round that produced finishes what it started though the relay stops (its waits are bounded anyway):
        // cancelled only FlushOnStop after the stop, its acknowledged rows are marked rather than sent again by the
        // next relay.
        using var finishing = new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
        await using var stopping = stoppingToken.Register(() => finishing.CancelAfter(FlushOnStop));
        try
        {
            var leadershipChecked = time.GetTimestamp();
            while (!stoppingToken.IsCancellationRequested && session.State == System.Data.ConnectionState.Open)
            {
                // Listening before reading: a row committed after the read below always wakes the next wait.
                if (!await PublishBatchAsync(stoppingToken, finishing.Token).ConfigureAwait(false))
                {
                    // Rows in flight are marked (and their keys' next rows sent) at the next batch: look again soon.
                    if (await session.WaitAsync(_inFlight.Count > 0 ? Stall : SafetyPoll, stoppingToken).ConfigureAwait(false))
                    {
                        await Task.Delay(Linger, stoppingToken).ConfigureAwait(false);
                    }

                    leadershipChecked = time.GetTimestamp();
                }
                else if (time.GetElapsedTime(leadershipChecked) >= SafetyPoll)
                {
                    // A backlog keeps every batch full, so the wait above, which would see the session end, is
                    // skipped: ask the session once a second, or a relay whose session was ended (and whose lock
                    // another relay took) would publish beside the new leader for as long as the backlog lasts.
                    await using var alive = new NpgsqlCommand("SELECT 1", session);
                    await alive.ExecuteScalarAsync(stoppingToken).ConfigureAwait(false);
                    leadershipChecked = time.GetTimestamp();
                }
            }

            return true;
        }
        finally
        {
            leadership.Leading = false;
            if (stoppingToken.IsCancellationRequested)
            {
                await FlushInFlightAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Waits up to <see cref="FlushOnStop"/> for the deliveries a stopping relay left in flight and marks those Kafka
    /// acknowledged; unmarked, every restart would send them again (consumers drop such repeats by event id, but each
    /// is one more event on Kafka). What is still unanswered then goes again from the next relay.
    /// </summary>
    private async Task FlushInFlightAsync()
    {
        if (_inFlight.Count == 0)
        {
            return;
        }

        // A replaced producer's deliveries may never end; they go again from the next relay.
        var current = producers.Current;
        try
        {
            await Task.WhenAll(_inFlight.Values.Where(row => row.Producer == current).Select(row => row.Delivery)).WaitAsync(FlushOnStop, time).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is TimeoutException or ProduceException<string, string>)
        {
            // Whatever settled is marked below; the rest stays unsent.
        }

        var left = _inFlight.Count;
        var acknowledged = _inFlight.Values.Count(row => row.Delivery.IsCompletedSuccessfully);
        try
        {
            using var bounded = new CancellationTokenSource(FlushOnStop, time);
            await using var scope = scopes.CreateAsyncScope();
            var marked = await SettleInFlightAsync(scope.ServiceProvider.GetRequiredService<BookingDbContext>(), bounded.Token).ConfigureAwait(false);
            LogFlushedOnStop(marked, left - marked);
        }
        catch (Exception exception) when (exception is NpgsqlException or InvalidOperationException or OperationCanceledException or TimeoutException)
        {
            LogFlushOnStopFailed(exception, acknowledged);
        }

        _inFlight.Clear();
    }

    /// <summary>
    /// The leader's session. Not pooled: the advisory lock lives exactly as long as this session, and pooled connections
    /// are not reset when they go back to the pool (see AddBookingDbContext). With TCP keepalives on the server's side:
    /// a leader whose machine died or was cut off leaves a session PostgreSQL would otherwise keep (and the lock with
    /// it) for the kernel's two hours; this way the server drops it within about a minute and another relay leads.
    /// </summary>
    public static string LeadershipConnectionString(string bookingDb)
    {
        var builder = new NpgsqlConnectionStringBuilder(bookingDb) { Pooling = false };
        builder.Options = $"{builder.Options} -c tcp_keepalives_idle=30 -c tcp_keepalives_interval=10 -c tcp_keepalives_count=3".Trim();
        return builder.ConnectionString;
    }

    private static async Task<bool> TryLeadAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT pg_try_advisory_lock($1)", connection) { Parameters = { new() { Value = LeaderLockKey } } };
        return (bool)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>
    /// Publishes the oldest unsent rows; returns whether more may be waiting: a full batch was read, or rows going again
    /// after a backoff filled their share and went (a topic Kafka takes again drains its backlog round after round,
    /// not one share per wait). The read stops with the relay; what comes once rows went to Kafka stops only with
    /// <paramref name="finishing"/>.
    /// </summary>
    private async Task<bool> PublishBatchAsync(CancellationToken cancellationToken, CancellationToken finishing)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BookingDbContext>();
        await SettleInFlightAsync(db, finishing).ConfigureAwait(false);
        var waiting = _inFlight.Keys.ToArray();
        if (waiting.Length >= MaxInFlight)
        {
            return false;
        }

        var unsent = db.OutboxMessages.AsNoTracking().Where(m => m.SentAt == null && m.QuarantinedAt == null);
        if (waiting.Length > 0)
        {
            unsent = unsent.Where(m => !waiting.Contains(m.MessageKey));
        }

        // Two reads, so rows that keep failing never crowd out the others however many they are: at most
        // RetriesPerRound rows whose backoff is over, and the rows of keys with no row that failed, oldest first. A key
        // with a row that failed is in the first read alone: that row is its first unsent one (a later row is tried
        // only once the earlier went), so each reservation's events still go in order. A count, not NOT EXISTS:
        // PostgreSQL made NOT EXISTS an anti-join and, sure from the statistics that such rows are rare, compared every
        // unsent row with every failed one (1.4 s a read for 5,000); a count stays a look-up in their partial index.
        var now = time.GetUtcNow();
        var room = Math.Min(BatchSize, MaxInFlight - waiting.Length);
        var retries = await unsent
            .Where(m => m.NextAttemptAt <= now)
            .OrderBy(m => m.NextAttemptAt)
            .Take(Math.Min(RetriesPerRound, room))
            .ToListAsync(cancellationToken)
            .ConfigureAwait(false);
        var fresh = await unsent
            .Where(m => db.OutboxMessages.Count(b => b.MessageKey == m.MessageKey && b.SentAt == null && b.QuarantinedAt == null && b.NextAttemptAt != null) == 0)
            .OrderBy(m => m.Id)
            .Take(room - retries.Count)
            .ToListAsync(cancellationToken)
            .ConfigureAwait(false);
        var batch = retries.Concat(fresh).OrderBy(m => m.Id).ToList();
        if (batch.Count == 0)
        {
            return false;
        }

        var producer = producers.Current;
        var round = await ProduceInOrderAsync(producer, batch, finishing).ConfigureAwait(false);
        await SendAloneAsync(producer, round, finishing).ConfigureAwait(false);
        foreach (var slow in round.InFlight)
        {
            _inFlight.Add(slow.Key, slow);
        }

        await MarkAsync(db, round.Sent, round.Quarantined, finishing).ConfigureAwait(false);
        await BackOffAsync(db, producer, round.Failed, finishing).ConfigureAwait(false);
        return batch.Count == BatchSize || (retries.Count == RetriesPerRound && retries.Exists(row => round.Sent.Contains(row.Id)));
    }

    /// <summary>
    /// Each row Kafka failed at once waits before it goes again (and its reservation's later rows with it), 1 s doubling
    /// to 30 s per failure in a row; a producer that failed for good is replaced first, so the rows go again through its
    /// successor (and a producer that keeps failing is not rebuilt every round).
    /// </summary>
    private async Task BackOffAsync(BookingDbContext db, IProducer<string, string> producer, List<Failure> failed, CancellationToken cancellationToken)
    {
        if (failed.Count == 0)
        {
            return;
        }

        // The producer's own failure, if any failed row says so, decides whether it is replaced, whatever row came first.
        var error = failed.Select(row => row.Error).FirstOrDefault(error => error.IsFatal || error.Code == ErrorCode.Local_Fatal) ?? failed[0].Error;
        producers.ReplaceIfFailed(producer, error);
        await RecordFailuresAsync(db, failed, backOff: true, cancellationToken).ConfigureAwait(false);
        if (_warnedOfFailures is not { } warned || time.GetElapsedTime(warned) >= LongestBackoff)
        {
            _warnedOfFailures = time.GetTimestamp();
            LogRowsFailed(failed.Count, error.Code, failed[0].Topic);
        }
        else
        {
            LogRowsFailedAgain(failed.Count, error.Code, failed[0].Topic);
        }
    }

    /// <summary>
    /// Records in each failed row why it failed and one more attempt; with <paramref name="backOff"/>, also when it goes
    /// next (1 s doubling to 30 s per failure in a row), else it goes with the next read.
    /// </summary>
    private async Task RecordFailuresAsync(BookingDbContext db, IEnumerable<Failure> failed, bool backOff, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        foreach (var rows in failed.GroupBy(row => (row.Attempts, Reason: Reason(row.Error))))
        {
            var ids = rows.Select(row => row.Id).ToArray();
            DateTimeOffset? next = backOff ? now + RetryDelay.Doubled(FirstBackoff, LongestBackoff, rows.Key.Attempts) : null;
            await db.OutboxMessages
                .Where(m => ids.Contains(m.Id) && m.SentAt == null)
                .ExecuteUpdateAsync(set => set.SetProperty(m => m.NextAttemptAt, next).SetProperty(m => m.LastError, rows.Key.Reason).SetProperty(m => m.Attempts, m => m.Attempts + 1), cancellationToken)
                .ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Waits for a wave's deliveries for as long as they keep settling: until all have, none has for <see cref="Stall"/>,
    /// or <see cref="Patience"/> has passed. So a wave takes what Kafka's answers take, and a partition that takes
    /// nothing costs it one <see cref="Stall"/>, not the producer's whole delivery timeout.
    /// </summary>
    private async Task WaitWhileSettlingAsync(List<Task<DeliveryResult<string, string>>> deliveries, CancellationToken cancellationToken)
    {
        var all = Task.WhenAll(deliveries);
        var started = time.GetTimestamp();
        var open = deliveries.Count;
        while (!all.IsCompleted && time.GetElapsedTime(started) < Patience)
        {
            try
            {
                await all.WaitAsync(Stall, time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                var stillOpen = deliveries.Count(delivery => !delivery.IsCompleted);
                if (stillOpen == open)
                {
                    return;
                }

                open = stillOpen;
            }
            catch (ProduceException<string, string>)
            {
                // Every delivery has settled; each one's outcome is read by the caller.
            }
        }
    }

    /// <summary>
    /// What became of a round's rows: delivered, refused with others (to be tried alone), refused for good alone, still
    /// in flight, failed otherwise.
    /// </summary>
    private sealed record Round(
        List<long> Sent,
        List<(OutboxMessage Row, Error Error)> Refused,
        List<(OutboxMessage Row, Error Error)> Quarantined,
        List<InFlight> InFlight,
        List<Failure> Failed);

    /// <summary>
    /// A row (what the relay records of it: Kafka's client holds the payload) whose delivery outlasted its wave's
    /// patience, with the producer it went through.
    /// </summary>
    private sealed record InFlight(long Id, string Key, string Topic, int Attempts, IProducer<string, string> Producer, Task<DeliveryResult<string, string>> Delivery);

    /// <summary>A row Kafka failed, with the attempts it had before and the error.</summary>
    private sealed record Failure(long Id, string Topic, int Attempts, Error Error);

    /// <summary>
    /// Settles the rows earlier rounds left in flight: marks those Kafka has acknowledged since, and frees the key of each
    /// that failed (or whose producer was replaced), so the key goes again from that row; returns how many it marked. A
    /// row Kafka failed records why: one that ran out its delivery timeout goes with the next read (it waited that long
    /// already), one failed otherwise backs off as a round's failures do.
    /// </summary>
    private async Task<int> SettleInFlightAsync(BookingDbContext db, CancellationToken cancellationToken)
    {
        var producer = producers.Current;
        var settled = _inFlight.Values.Where(row => row.Delivery.IsCompleted || row.Producer != producer).ToList();
        if (settled.Count == 0)
        {
            return 0;
        }

        var acknowledged = settled.Where(row => row.Delivery.IsCompletedSuccessfully).Select(row => row.Id).ToList();
        await MarkAsync(db, acknowledged, [], cancellationToken).ConfigureAwait(false);
        foreach (var row in settled)
        {
            _inFlight.Remove(row.Key);
        }

        // A row whose producer was replaced may have no outcome at all: the error is the first one Kafka gave.
        var unsent = settled.Where(row => !row.Delivery.IsCompletedSuccessfully).ToList();
        if (unsent.Count > 0)
        {
            var failed = unsent.FirstOrDefault(row => row.Delivery.Exception?.InnerException is KafkaException) ?? unsent[0];
            var error = ErrorOf(failed.Delivery);
            producers.ReplaceIfFailed(failed.Producer, error);
            LogInFlightFailed(unsent.Count, error.Code);
            foreach (var kind in unsent
                .Where(row => row.Delivery.Exception?.InnerException is KafkaException)
                .Select(row => new Failure(row.Id, row.Topic, row.Attempts, ErrorOf(row.Delivery)))
                .GroupBy(row => row.Error.Code == ErrorCode.Local_MsgTimedOut))
            {
                await RecordFailuresAsync(db, kind, backOff: !kind.Key, cancellationToken).ConfigureAwait(false);
            }
        }

        return acknowledged.Count;
    }

    /// <summary>
    /// Produces the rows on one idempotent producer, keeping each reservation's events in order although they go to
    /// different topics: a row goes out only once the rows before it with the same key (the reservation id) were
    /// delivered. So the batch goes in waves, the first row of every key, then the second of each key whose first was
    /// delivered, and so on; a key with a row refused, failed or still in flight when its wave stopped waiting sends
    /// nothing more this round. Rows of different keys go out together, as one batch.
    /// </summary>
    private async Task<Round> ProduceInOrderAsync(IProducer<string, string> producer, List<OutboxMessage> batch, CancellationToken cancellationToken)
    {
        var round = new Round(new List<long>(batch.Count), [], [], [], []);
        var waves = new List<List<OutboxMessage>>();
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var row in batch)
        {
            var wave = seen[row.MessageKey] = seen.GetValueOrDefault(row.MessageKey) + 1;
            if (waves.Count < wave)
            {
                waves.Add([]);
            }

            waves[wave - 1].Add(row);
        }

        var stopped = new HashSet<string>(StringComparer.Ordinal);
        foreach (var rows in waves.Select(wave => wave.Where(row => !stopped.Contains(row.MessageKey)).ToList()))
        {
            // Not cancelled with the relay: a delivery's task is Kafka's answer, which a stopping relay still waits for.
            var deliveries = rows.Select(row => producer.ProduceAsync(row.Topic, ToMessage(row), CancellationToken.None)).ToList();
            await WaitWhileSettlingAsync(deliveries, cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < rows.Count; i++)
            {
                if (!deliveries[i].IsCompleted)
                {
                    stopped.Add(rows[i].MessageKey);
                    round.InFlight.Add(new InFlight(rows[i].Id, rows[i].MessageKey, rows[i].Topic, rows[i].Attempts, producer, deliveries[i]));
                    continue;
                }

                if (deliveries[i].IsCompletedSuccessfully)
                {
                    round.Sent.Add(rows[i].Id);
                    continue;
                }

                stopped.Add(rows[i].MessageKey);
                if (deliveries[i].Exception?.InnerException is ProduceException<string, string> { Error: var error } && IsRefusedForGood(error.Code))
                {
                    round.Refused.Add((rows[i], error));
                }
                else
                {
                    round.Failed.Add(new Failure(rows[i].Id, rows[i].Topic, rows[i].Attempts, ErrorOf(deliveries[i])));
                }
            }
        }

        return round;
    }

    /// <summary>
    /// Kafka refuses a whole request or record batch at once, and every message it carried gets the error, though
    /// only one of them may be at fault (or none: a batch over a topic's size limit made of small events). So each
    /// refused row is sent again on its own, in order, and only one refused when alone is quarantined; one that fails
    /// with an error of another kind joins the round's failed rows. The round gives this <see cref="Patience"/> in all:
    /// a delivery still open then stays in flight, and the rows not tried yet go again next round.
    /// </summary>
    private async Task SendAloneAsync(IProducer<string, string> producer, Round round, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        foreach (var (row, error) in round.Refused)
        {
            var left = Patience - time.GetElapsedTime(started);
            if (left <= TimeSpan.Zero)
            {
                return;
            }

            var delivery = producer.ProduceAsync(row.Topic, ToMessage(row), CancellationToken.None);
            try
            {
                await delivery.WaitAsync(left, time, cancellationToken).ConfigureAwait(false);
                round.Sent.Add(row.Id);
                // Refused with others, taken alone: the request was at fault (a batch over the topic's size limit, say).
                LogSentAlone(row.Id, row.Topic, error.Code);
            }
            catch (TimeoutException)
            {
                round.InFlight.Add(new InFlight(row.Id, row.MessageKey, row.Topic, row.Attempts, producer, delivery));
            }
            catch (ProduceException<string, string> exception) when (IsRefusedForGood(exception.Error.Code))
            {
                round.Quarantined.Add((row, exception.Error));
            }
            catch (ProduceException<string, string> exception)
            {
                round.Failed.Add(new Failure(row.Id, row.Topic, row.Attempts, exception.Error));
            }
        }
    }

    /// <summary>Sent rows in one statement; each refused one quarantined with its error.</summary>
    private async Task MarkAsync(BookingDbContext db, List<long> sent, List<(OutboxMessage Row, Error Error)> refused, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var ids = sent.ToArray();
        if (ids.Length > 0)
        {
            await db.OutboxMessages
                .Where(m => ids.Contains(m.Id) && m.SentAt == null)
                .ExecuteUpdateAsync(setters => setters.SetProperty(m => m.SentAt, now).SetProperty(m => m.Attempts, m => m.Attempts + 1), cancellationToken)
                .ConfigureAwait(false);
        }

        foreach (var (row, error) in refused)
        {
            var reason = Reason(error);
            await db.OutboxMessages
                .Where(m => m.Id == row.Id)
                .ExecuteUpdateAsync(setters => setters.SetProperty(m => m.QuarantinedAt, now).SetProperty(m => m.LastError, reason).SetProperty(m => m.Attempts, m => m.Attempts + 1), cancellationToken)
                .ConfigureAwait(false);
            LogQuarantined(row.Id, row.EventId, row.Topic, row.MessageKey, row.Payload.Length, reason);
        }
    }

    /// <summary>An error as <c>last_error</c> keeps it.</summary>
    private static string Reason(Error error)
    {
        var reason = $"{error.Code}: {error.Reason}";
        return reason.Length > OutboxMessage.MaxErrorLength ? reason[..OutboxMessage.MaxErrorLength] : reason;
    }

    /// <summary>The error Kafka failed a delivery with; <see cref="ErrorCode.Unknown"/> for one with no outcome from Kafka.</summary>
    private static Error ErrorOf(Task delivery) =>
        delivery.Exception?.InnerException is KafkaException kafka ? kafka.Error : new Error(ErrorCode.Unknown);

    /// <summary>Errors no retry can fix: the event itself is what Kafka refuses.</summary>
    private static bool IsRefusedForGood(ErrorCode code) => code is ErrorCode.MsgSizeTooLarge
        or ErrorCode.InvalidMsg or ErrorCode.InvalidMsgSize or ErrorCode.RecordListTooLarge or ErrorCode.InvalidRecord or ErrorCode.TopicException
        or ErrorCode.PolicyViolation;

    private static Message<string, string> ToMessage(OutboxMessage row)
    {
        var headers = new Headers
        {
            { "event-id", Encoding.UTF8.GetBytes(row.EventId.ToString("D")) },
            { "event-type", Encoding.UTF8.GetBytes(row.Topic) },
        };
        if (row.TraceParent is not null)
        {
            headers.Add("traceparent", Encoding.UTF8.GetBytes(row.TraceParent));
        }

        if (!string.IsNullOrEmpty(row.TraceState))
        {
            headers.Add("tracestate", Encoding.UTF8.GetBytes(row.TraceState));
        }

        return new Message<string, string> { Key = row.MessageKey, Value = row.Payload, Headers = headers };
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox row {OutboxId} ({Topic}) went through alone after Kafka refused the request that carried it ({Code}); if this repeats, the producer's batch.size is above the topic's max.message.bytes")]
    private partial void LogSentAlone(long outboxId, string topic, ErrorCode code);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} outbox rows left in flight were not delivered ({Code}); each goes again, with its reservation's later events behind it")]
    private partial void LogInFlightFailed(int count, ErrorCode code);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stopping: {Marked} outbox rows left in flight were acknowledged and marked sent; {Unanswered} go again from the next relay")]
    private partial void LogFlushedOnStop(int marked, int unanswered);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stopping: {Count} outbox rows Kafka acknowledged could not be marked sent; the next relay sends them again")]
    private partial void LogFlushOnStopFailed(Exception exception, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "This worker now relays the outbox")]
    private partial void LogLeading();

    [LoggerMessage(Level = LogLevel.Error, Message = "Outbox row {OutboxId} (event {EventId}, {Topic}, key {MessageKey}, {PayloadLength} chars) refused by Kafka for good and quarantined: {Reason}")]
    private partial void LogQuarantined(long outboxId, Guid eventId, string topic, string messageKey, int payloadLength, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Count} outbox rows were not delivered ({Code}, first on topic {Topic}); each goes again after a backoff, with its reservation's later events behind it, and the other reservations' events go on")]
    private partial void LogRowsFailed(int count, ErrorCode code, string topic);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Count} outbox rows were not delivered ({Code}, first on topic {Topic}); each goes again after a backoff")]
    private partial void LogRowsFailedAgain(int count, ErrorCode code, string topic);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox relay round failed; retrying")]
    private partial void LogRelayFailed(Exception exception);
}
