using System.Collections.Concurrent;
using System.Text;
using Booking.AppHost.Hosting;
using Booking.Core.Outbox;
using Booking.SagaWorker;
using Booking.SagaWorker.Outbox;
using Booking.SagaWorker.Saga;
using Confluent.Kafka;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Npgsql;

namespace Booking.Tests.Infrastructure;

/// <summary>
/// The booking API, the performance service and the saga worker in-process, with a Kafka mock cluster of their
/// own (fault tests take its broker down) and an independent consumer that records every outcome event.
/// </summary>
public class SagaApp(Dependencies dependencies) : BookingApp(dependencies)
{
    private WebApplicationFactory<SagaWorkerAssembly> _worker = null!;
    private string _consumerGroup = null!;
    private CancellationTokenSource _stopping = null!;
    private Task _recording = Task.CompletedTask;

    public KafkaMockCluster Kafka { get; private set; } = null!;

    /// <summary>The Kafka consumer group of the fixture's saga workers.</summary>
    public string ConsumerGroup => _consumerGroup;

    /// <summary>The in-process saga worker's services (its meters, for instance).</summary>
    public IServiceProvider WorkerServices => _worker.Services;

    /// <summary>The fixture's saga worker's last warnings and errors, newest last, for a failing test's message.</summary>
    public string WorkerWarnings => string.Join(Environment.NewLine, _worker.Services.GetFakeLogCollector().GetSnapshot()
        .TakeLast(20).Select(record => $"{record.Timestamp:HH:mm:ss.fff} {record.Level} {record.Category}: {record.Message} {record.Exception?.Message}"));

    /// <summary>
    /// Every event seen on the outcome topics: topic, key (reservation id), event id, where it is on Kafka. The same
    /// position may be seen twice (read again after a rebalance of the recorder's group); an event sent twice is two.
    /// </summary>
    public ConcurrentQueue<(string Topic, string Key, string EventId, TopicPartitionOffset Position)> Events { get; } = new();

    protected override IEnumerable<KeyValuePair<string, string?>> Settings =>
    [
        // A saga compensates at its first failed step past this: a minute, so that a machine stalled for seconds (a
        // batch item answered "try again" past the performance service's 3 s budget) does not fail a booking a test
        // expects to confirm. ShortDeadlineSagaApp is the fixture whose sagas run out of time.
        new("Booking:SagaTimeout", "00:01:00"),
        new("Booking:SagaResumeAfter", "00:00:03"),
    ];

    /// <summary>How many brokers the fixture's Kafka has.</summary>
    protected virtual int KafkaBrokers => 1;

    /// <summary>Shapes the fixture's Kafka before any client connects (more brokers, who leads what).</summary>
    protected virtual void ConfigureKafka(KafkaMockCluster kafka)
    {
    }

    protected override async Task StartMoreAsync()
    {
        Kafka = KafkaMockCluster.Start(BookingTopics.All, brokers: KafkaBrokers);
        ConfigureKafka(Kafka);
        _stopping = new CancellationTokenSource();
        _recording = Task.Factory.StartNew(() => Record(_stopping.Token), TaskCreationOptions.LongRunning);

        _consumerGroup = $"saga-{Guid.NewGuid():N}";
        _worker = StartWorker();
        await Task.CompletedTask;
    }

    /// <summary>
    /// Starts a saga worker on this app's databases, Kafka and consumer group: the fixture's own, or another one a test
    /// runs beside it (and disposes) to make the group rebalance. <paramref name="toStub"/> stands between the worker
    /// and the performance service, when given.
    /// </summary>
    public WebApplicationFactory<SagaWorkerAssembly> StartWorker(Func<DelegatingHandler>? toStub = null)
    {
        var worker = new WebApplicationFactory<SagaWorkerAssembly>().WithWebHostBuilder(web =>
        {
            web.UseEnvironment("Development");
            web.UseSetting("ConnectionStrings:redis", Dependencies.RedisConnectionString);
            web.UseSetting("ConnectionStrings:bookingdb", BookingDb);
            web.UseSetting("ConnectionStrings:kafka", Kafka.BootstrapServers);
            web.UseSetting("services:performance-stub:http:0", "http://performance-stub.test");
            web.UseSetting("Saga:ConsumerGroup", _consumerGroup);
            web.UseSetting(BookingAuthentication.SigningKeySetting, TestTokens.SigningKey);
            web.UseSetting("Saga:InitialBackoff", "00:00:00.100");
            web.UseSetting("Saga:MaxBackoff", "00:00:00.500");
            web.UseSetting("Saga:SweepInterval", "00:00:00.200");
            foreach (var (key, value) in Settings)
            {
                web.UseSetting(key, value);
            }

            web.ConfigureServices(services => services.AddFakeLogging(options => options.FilteredLevels = new HashSet<LogLevel> { LogLevel.Warning, LogLevel.Error, LogLevel.Critical }));
            web.ConfigureServices(services =>
            {
                var client = services.AddHttpClient<PerformanceAllocationClient>()
                    .AddHttpMessageHandler(() => new TraceContextHandler())
                    .ConfigurePrimaryHttpMessageHandler(() => Stub.Server.CreateHandler());
                if (toStub is not null)
                {
                    client.AddHttpMessageHandler(toStub);
                }
            });
        });
        _ = worker.Server;
        return worker;
    }

    /// <summary>
    /// Reads from the booking database, in a context of its own each time, every <paramref name="every"/> (100 ms) until
    /// <paramref name="done"/> holds for what was read, and returns it; fails with <paramref name="describe"/>'s text
    /// about the last reading once <paramref name="within"/> has passed.
    /// </summary>
    public async Task<T> WaitForStoredAsync<T>(Func<BookingDbContext, Task<T>> read, Func<T, bool> done, TimeSpan within, Func<T, string> describe, TimeSpan? every = null)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            T value;
            await using (var db = NewDbContext())
            {
                value = await read(db);
            }

            if (done(value))
            {
                return value;
            }

            if (DateTime.UtcNow >= deadline)
            {
                Assert.Fail(describe(value));
            }

            await Task.Delay(every ?? TimeSpan.FromMilliseconds(100));
        }
    }

    /// <summary>Waits until the reservation reaches a final status and returns it.</summary>
    public Task<Reservation> WaitForFinalAsync(Guid reservationId, TimeSpan? timeout = null) => WaitForStoredAsync(
        db => db.Reservations.AsNoTracking().Include(r => r.Saga).ThenInclude(s => s!.Steps).SingleAsync(r => r.Id == reservationId),
        reservation => reservation.Status is ReservationStatus.Confirmed or ReservationStatus.Failed or ReservationStatus.Cancelled,
        timeout ?? TimeSpan.FromSeconds(30),
        reservation => $"Reservation {reservationId} is still {reservation.Status} (saga {reservation.Saga?.State}). The worker's last warnings:{Environment.NewLine}{WorkerWarnings}");

    /// <summary>Waits until every one of the reservations reaches a final status and returns them.</summary>
    public Task<List<Reservation>> WaitForAllFinalAsync(IReadOnlyCollection<Guid> ids, TimeSpan timeout) => WaitForStoredAsync(
        db => db.Reservations.AsNoTracking().Where(r => ids.Contains(r.Id)).ToListAsync(),
        reservations => !reservations.Exists(IsOpen),
        timeout,
        reservations =>
        {
            var open = reservations.FindAll(IsOpen);
            return $"{open.Count} of {ids.Count} reservations are not final after {timeout.TotalSeconds} s (for example {open[0].Id}). The worker's last warnings:{Environment.NewLine}{WorkerWarnings}";
        },
        TimeSpan.FromMilliseconds(250));

    private static bool IsOpen(Reservation reservation) => reservation.Status is ReservationStatus.Pending or ReservationStatus.Cancelling;

    /// <summary>Waits until an event of <paramref name="topic"/> for the reservation was consumed.</summary>
    public async Task<int> WaitForEventAsync(string topic, Guid reservationId, TimeSpan? timeout = null)
    {
        var key = reservationId.ToString("D");
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (!Events.Any(e => e.Topic == topic && e.Key == key))
        {
            if (DateTime.UtcNow >= deadline)
            {
                Assert.Fail($"No {topic} event for {reservationId}. {await DescribeAsync(reservationId)} The worker's last warnings:{Environment.NewLine}{WorkerWarnings}");
            }

            await Task.Delay(100);
        }

        return Events.Where(e => e.Topic == topic && e.Key == key).Select(e => e.Position).Distinct().Count();
    }

    /// <summary>Where a reservation's booking stands, for a failing test's message: its status, its saga, its outbox rows.</summary>
    private async Task<string> DescribeAsync(Guid reservationId)
    {
        await using var db = NewDbContext();
        var key = reservationId.ToString("D");
        var reservation = await db.Reservations.AsNoTracking().Include(r => r.Saga).SingleOrDefaultAsync(r => r.Id == reservationId);
        var rows = await db.OutboxMessages.AsNoTracking().Where(m => m.MessageKey == key).OrderBy(m => m.Id)
            .Select(m => $"{m.Topic} (sent {m.SentAt:HH:mm:ss.fff}, attempts {m.Attempts}, next {m.NextAttemptAt:HH:mm:ss.fff}, {m.LastError})").ToListAsync();
        var seen = Events.Where(e => e.Key == key).Select(e => e.Topic);
        return $"It is {reservation?.Status} (saga {reservation?.Saga?.State}); its outbox rows: {string.Join("; ", rows)}; events seen: {string.Join(", ", seen)}.";
    }

    /// <summary>
    /// An event the worker's relay sent and left in flight, Kafka answering it only after <paramref name="roundTrip"/>;
    /// a first event, sent before at full speed, shows the relay leading with its producer connected. The caller sets
    /// the round trip back (<c>Kafka.SetBrokerRoundTrip(KafkaMockCluster.FirstBrokerId, TimeSpan.Zero)</c>).
    /// </summary>
    public async Task<(OutboxRelay Relay, OutboxMessage Row)> LeaveOutboxEventInFlightAsync(TimeSpan roundTrip)
    {
        var first = await AddOutboxEventAsync();
        await WaitForOutboxSentAsync([Guid.Parse(first.MessageKey)]);
        Kafka.SetBrokerRoundTrip(KafkaMockCluster.FirstBrokerId, roundTrip);
        var row = await AddOutboxEventAsync();

        // Woken by the insert, the relay sends the row and, unanswered, leaves it in flight.
        var relay = WorkerServices.GetServices<IHostedService>().OfType<OutboxRelay>().Single();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (relay.RowsInFlight == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "The relay left no row in flight in 20 s.");
            await Task.Delay(TimeSpan.FromMilliseconds(20));
        }

        return (relay, row);
    }

    /// <summary>
    /// Kafka fails every event of <paramref name="topic"/> with <paramref name="error"/> from now on (<see cref="ErrorCode.NoError"/>:
    /// takes them again), and the worker's producer knows it at once. The mock cluster gives a topic's error only in
    /// metadata (a real broker answers the produce with it too), and a producer asks for a topic's metadata when it
    /// first writes it and then every few minutes: without asking now, a producer that wrote the topic before would
    /// go on writing it.
    /// </summary>
    public void SetTopicError(string topic, ErrorCode error)
    {
        Kafka.SetTopicError(topic, error);
        using var admin = new DependentAdminClientBuilder(WorkerServices.GetRequiredService<KafkaProducerFactory>().Current.Handle).Build();
        var metadata = admin.GetMetadata(TimeSpan.FromSeconds(10));
        Assert.Equal(error, metadata.Topics.Single(t => t.Topic == topic).Error.Code);
    }

    /// <summary>Writes an event of no reservation in particular (a key of its own) to the outbox, as a commit of the API would.</summary>
    public async Task<OutboxMessage> AddOutboxEventAsync()
    {
        var row = new OutboxMessage
        {
            EventId = Guid.NewGuid(),
            Topic = BookingTopics.Cancelled,
            MessageKey = Guid.NewGuid().ToString("D"),
            Payload = "{}",
            CreatedAt = DateTimeOffset.UtcNow,
        };
        await using var db = NewDbContext();
        db.OutboxMessages.Add(row);
        await db.SaveChangesAsync();
        return row;
    }

    /// <summary>Writes <paramref name="rows"/> unsent events, each of a key of its own, to the outbox in one statement.</summary>
    public async Task AddOutboxBacklogAsync(int rows)
    {
        await using var db = new NpgsqlConnection(BookingDb);
        await db.OpenAsync();
        await using var insert = new NpgsqlCommand($"""
            INSERT INTO outbox_messages (event_id, topic, message_key, payload, created_at, attempts)
            SELECT gen_random_uuid(), '{BookingTopics.Cancelled}', gen_random_uuid()::text, '{"{}"}', now(), 0
            FROM generate_series(1, {rows})
            """, db);
        await insert.ExecuteNonQueryAsync();
    }

    /// <summary>How many outbox rows are marked sent.</summary>
    public async Task<long> OutboxSentCountAsync()
    {
        await using var db = new NpgsqlConnection(BookingDb);
        await db.OpenAsync();
        await using var count = new NpgsqlCommand("SELECT count(*) FROM outbox_messages WHERE sent_at IS NOT NULL", db);
        return (long)(await count.ExecuteScalarAsync())!;
    }

    /// <summary>The backend holding the outbox relay's leader lock in this app's database; null while none does.</summary>
    public async Task<int?> RelayLeaderAsync()
    {
        await using var db = new NpgsqlConnection(BookingDb);
        await db.OpenAsync();
        await using var leader = new NpgsqlCommand($"""
            SELECT pid FROM pg_locks
            WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND ((classid::bigint << 32) | objid::bigint) = {OutboxRelay.LeaderLockKey}
            """, db);
        return await leader.ExecuteScalarAsync() as int?;
    }

    /// <summary>
    /// Waits until every outbox row of the reservations is marked sent. A consumer can read an event before the relay's
    /// mark commits (the relay marks after Kafka's acknowledgement), so an event seen is not yet a row marked.
    /// </summary>
    public async Task WaitForOutboxSentAsync(IEnumerable<Guid> reservationIds, TimeSpan? timeout = null)
    {
        var keys = reservationIds.Select(id => id.ToString("D")).ToList();
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            await using var db = NewDbContext();
            var unsent = await db.OutboxMessages.AsNoTracking().Where(m => keys.Contains(m.MessageKey) && m.SentAt == null)
                .Select(m => new { m.Id, m.Topic, m.MessageKey, m.QuarantinedAt }).ToListAsync();
            if (unsent.Count == 0)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline && unsent.All(m => m.QuarantinedAt == null),
                $"{unsent.Count} outbox rows of these reservations are unsent (for example {unsent[0].Topic} for {unsent[0].MessageKey}, quarantined: {unsent[0].QuarantinedAt is not null}).");
            await Task.Delay(100);
        }
    }

    private void Record(CancellationToken stopping)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = Kafka.BootstrapServers,
            GroupId = $"test-recorder-{Guid.NewGuid():N}",
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = true,
            SessionTimeoutMs = 6000,
        };
        // librdkafka's own lines would go to standard error; the tests that stop the broker make hundreds of them.
        using var consumer = new ConsumerBuilder<string, string>(config).SetLogHandler((_, _) => { }).Build();
        consumer.Subscribe([BookingTopics.Completed, BookingTopics.Failed, BookingTopics.Cancelled]);
        try
        {
            while (!stopping.IsCancellationRequested)
            {
                ConsumeResult<string, string>? message;
                try
                {
                    message = consumer.Consume(TimeSpan.FromMilliseconds(200));
                }
                catch (ConsumeException exception) when (!exception.Error.IsFatal)
                {
                    // A topic a fault test made unreadable, say: the other topics' events still come.
                    continue;
                }

                if (message is not null)
                {
                    var eventId = message.Message.Headers.TryGetLastBytes("event-id", out var bytes) ? Encoding.UTF8.GetString(bytes) : string.Empty;
                    Events.Enqueue((message.Topic, message.Message.Key, eventId, message.TopicPartitionOffset));
                }
            }
        }
        finally
        {
            consumer.Close();
        }
    }

    protected override async ValueTask StopMoreAsync()
    {
        if (_worker is not null)
        {
            await _worker.DisposeAsync();
        }

        if (_stopping is not null)
        {
            await _stopping.CancelAsync();
            await _recording;
            _stopping.Dispose();
        }

        Kafka?.Dispose();
    }
}

/// <summary>
/// Puts the current trace context on requests to the in-memory performance service, as SocketsHttpHandler does
/// on a real connection (the TestServer handler does not), so one booking stays one trace in these tests too.
/// </summary>
internal sealed class TraceContextHandler : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        System.Diagnostics.DistributedContextPropagator.Current.Inject(System.Diagnostics.Activity.Current, request, static (carrier, name, value) =>
        {
            var message = (HttpRequestMessage)carrier!;
            message.Headers.Remove(name);
            message.Headers.TryAddWithoutValidation(name, value);
        });
        return base.SendAsync(request, cancellationToken);
    }
}

/// <summary>A <see cref="SagaApp"/> whose sagas compensate once a step has failed for 4 s: the deadline's own tests.</summary>
public sealed class ShortDeadlineSagaApp(Dependencies dependencies) : SagaApp(dependencies)
{
    protected override IEnumerable<KeyValuePair<string, string?>> Settings => [.. base.Settings, new("Booking:SagaTimeout", "00:00:04")];
}
