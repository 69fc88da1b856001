using System.Collections.Concurrent;
using System.Diagnostics;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Booking.AppHost.Hosting;
using Booking.Core.Outbox;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Booking.Tests.Faults;

/// <summary>The whole in-process system on a PostgreSQL of its own (the AppHost's executable resource), so the test can stop it.</summary>
public sealed class OwnPostgresApp(Dependencies dependencies) : SagaApp(dependencies)
{
    private readonly TestDirectory _data = new("own-pg");
    private DistributedApplication? _host;
    private string _server = null!;

    public async Task StopPostgresAsync()
    {
        var result = await _host!.Services.GetRequiredService<ResourceCommandService>().ExecuteCommandAsync("postgres", KnownResourceCommands.StopCommand);
        Assert.True(result.Success, result.Message);
        await _host.ResourceNotifications.WaitForResourceAsync("postgres", [KnownResourceStates.Exited, KnownResourceStates.Finished]).WaitAsync(TimeSpan.FromMinutes(1));
    }

    /// <summary>
    /// Starts PostgreSQL again and empties this process's connection pools, whose idle connections the stop cut off:
    /// each would otherwise fail its next request once (a 503), which a test after this one does not expect.
    /// </summary>
    public async Task StartPostgresAsync()
    {
        await TestAppHost.StartAgainAsync(_host!, "postgres", TimeSpan.FromMinutes(1));
        Npgsql.NpgsqlConnection.ClearAllPools();
    }

    /// <summary>An empty database on this fixture's PostgreSQL.</summary>
    public Task<string> NewDatabaseAsync(string prefix) => CreateDatabaseAsync(prefix);

    protected override async Task BeforeStartAsync()
    {
        var builder = TestAppHost.CreateBuilder();
        var postgres = builder.AddPostgresExecutable("postgres", new AppHostSettings
        {
            DataDirectory = _data.Path,
            RandomPorts = true,
            Durable = false,
        });
        _host = await TestAppHost.StartAsync(builder, "postgres");
        _server = (await postgres.Resource.ConnectionStringExpression.GetValueAsync(CancellationToken.None))!;
    }

    protected override Task<string> CreateDatabaseAsync(string prefix) => TestAppHost.CreateDatabaseAsync(_server, prefix);

    protected override async ValueTask StopMoreAsync()
    {
        await base.StopMoreAsync();
        if (_host is not null)
        {
            await _host.StopAsync();
            await _host.DisposeAsync();
        }

        _data.Dispose();
    }
}

public sealed class PostgresOutageTests(OwnPostgresApp app, ITestOutputHelper output) : IClassFixture<OwnPostgresApp>
{
    [Fact]
    public async Task PostgreSQL_stopped_20_s_under_load_gives_only_503s_and_every_saga_and_event_finishes_after()
    {
        var performance = await app.CreatePerformanceAsync(("A", 50, 40));
        using var warm = app.Client($"pg-warm-{Guid.NewGuid():N}");
        var first = await warm.ReserveAsync((await warm.HoldSeatsAsync(performance, "A-1-1")).HoldId);
        await app.WaitForEventAsync(BookingTopics.Completed, first.Id);

        var statuses = new ConcurrentDictionary<int, int>();
        var accepted = new ConcurrentBag<Guid>();
        using var stop = new CancellationTokenSource();
        var seat = 1;
        var users = Enumerable.Range(0, 8).Select(u => Task.Run(async () =>
        {
            using var client = app.Client($"pg-user-{u}-{Guid.NewGuid():N}");
            while (!stop.IsCancellationRequested)
            {
                var n = Interlocked.Increment(ref seat);
                if (n >= 2000)
                {
                    return;
                }

                using var hold = await client.PostJsonAsync($"/api/performances/{performance}/holds", new { seatIds = new[] { $"A-{1 + (n / 40)}-{1 + (n % 40)}" } });
                statuses.AddOrUpdate((int)hold.StatusCode, 1, (_, c) => c + 1);
                if (hold.StatusCode != HttpStatusCode.Created)
                {
                    await Task.Delay(200);
                    continue;
                }

                var holdId = (await hold.ReadAsync<Booking.Api.Holds.SeatHoldDto>(HttpStatusCode.Created)).HoldId;
                using var reserve = await client.PostJsonAsync("/api/reservations", new { holdId });
                statuses.AddOrUpdate((int)reserve.StatusCode, 1, (_, c) => c + 1);
                if (reserve.StatusCode == HttpStatusCode.Accepted)
                {
                    accepted.Add((await reserve.ReadAsync<Booking.Core.Reservations.ReservationDto>(HttpStatusCode.Accepted)).Id);
                }

                await Task.Delay(300);
            }
        })).ToList();

        await Task.Delay(3000);
        await app.StopPostgresAsync();
        var outageStarted = DateTime.UtcNow;
        // The performance service answers its own database's outage as a 503 problem too, never a 500.
        using (var stub = app.StubClient())
        {
            using var read = await stub.GetAsync($"/performances/{performance}");
            await read.AssertProblemAsync(HttpStatusCode.ServiceUnavailable, ProblemCodes.DependencyUnavailable);
        }

        var restOfOutage = TimeSpan.FromSeconds(20) - (DateTime.UtcNow - outageStarted);
        await Task.Delay(restOfOutage > TimeSpan.Zero ? restOfOutage : TimeSpan.Zero);
        await app.StartPostgresAsync();
        // The relay leads again soon: an event written after PostgreSQL came back is on Kafka within fifteen seconds
        // (it tries to lead again every second or two; the bound leaves room for a loaded machine, not for a backoff).
        var relayBack = WaitForRelayAsync();
        // The users go on booking until the relay is seen publishing, so new rows are there for it to publish.
        await Task.WhenAll(Task.Delay(5000), Task.WhenAny(relayBack, Task.Delay(TimeSpan.FromSeconds(60))));
        await stop.CancelAsync();
        await Task.WhenAll(users);
        output.WriteLine(string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}: {s.Value}")));

        Assert.All(statuses.Keys, status => Assert.True(status < 500 || status == 503, $"status {status}"));
        Assert.True(statuses.GetValueOrDefault(503) > 0, "The outage should have been seen.");
        Assert.True(statuses.GetValueOrDefault(202) > 0, "Bookings should have been accepted around the outage.");

        // Every accepted booking reaches a final status, with its event, and nothing stays unsent.
        var deadline = DateTime.UtcNow.AddSeconds(120);
        await using var db = app.NewDbContext();
        var ids = accepted.Append(first.Id).ToList();
        while (await db.Reservations.CountAsync(r => ids.Contains(r.Id) && (r.Status == ReservationStatus.Pending || r.Status == ReservationStatus.Cancelling)) > 0
            || await db.OutboxMessages.CountAsync(m => m.SentAt == null && m.QuarantinedAt == null) > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "Sagas or events still unfinished 120 s after PostgreSQL came back.");
            await Task.Delay(500);
        }

        foreach (var reservation in await db.Reservations.AsNoTracking().Where(r => ids.Contains(r.Id)).ToListAsync())
        {
            var topic = reservation.Status == ReservationStatus.Confirmed ? BookingTopics.Completed : BookingTopics.Failed;
            await app.WaitForEventAsync(topic, reservation.Id, TimeSpan.FromSeconds(30));
            // One event id per outcome, however often the relay had to try.
            Assert.Single(app.Events.Where(e => e.Topic == topic && e.Key == reservation.Id.ToString("D")).Select(e => e.EventId).Distinct());
        }

        var leadingAgain = await relayBack;
        output.WriteLine($"relay publishing again {leadingAgain.TotalSeconds:F1} s after PostgreSQL was back");
        Assert.True(leadingAgain < TimeSpan.FromSeconds(15), $"The relay published again only {leadingAgain.TotalSeconds:F1} s after PostgreSQL was back.");
    }

    [Fact]
    public async Task A_booking_service_started_while_PostgreSQL_is_down_answers_503_and_migrates_its_database_once_it_is_back()
    {
        var database = await app.NewDatabaseAsync("started_late");
        await app.StopPostgresAsync();
        await using var api = new WebApplicationFactory<Booking.Api.ApiAssembly>().WithWebHostBuilder(web =>
        {
            web.UseEnvironment("Development");
            web.UseSetting("ConnectionStrings:redis", app.Dependencies.RedisConnectionString);
            web.UseSetting("ConnectionStrings:bookingdb", database);
            web.UseSetting("services:performance-stub:http:0", "http://performance-stub.test");
            web.UseSetting(BookingAuthentication.SigningKeySetting, TestTokens.SigningKey);
        });
        using var admin = api.CreateClient();
        admin.DefaultRequestHeaders.Authorization = TestTokens.Admin;
        var capacity = $"/api/capacity/EXHIBITION/late-{Guid.NewGuid():N}/2026-12-01";
        try
        {
            // It starts (a service that stopped here would stay down: nothing restarts it), alive but not healthy.
            Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync(ServiceDefaultsExtensions.AlivenessEndpointPath)).StatusCode);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await admin.GetAsync(ServiceDefaultsExtensions.HealthEndpointPath)).StatusCode);
            using var refused = await admin.PutAsJsonAsync(capacity, new { capacity = 10 });
            await refused.AssertProblemAsync(HttpStatusCode.ServiceUnavailable, ProblemCodes.DependencyUnavailable);
        }
        finally
        {
            await app.StartPostgresAsync();
        }

        // Its migrations apply by themselves once PostgreSQL is back: healthy, and its tables are there.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while ((await admin.GetAsync(ServiceDefaultsExtensions.HealthEndpointPath)).StatusCode != HttpStatusCode.OK)
        {
            Assert.True(DateTime.UtcNow < deadline, "The service never became healthy after PostgreSQL came back.");
            await Task.Delay(250);
        }

        using var stored = await admin.PutAsJsonAsync(capacity, new { capacity = 10 });
        Assert.Equal(10, (await stored.ReadAsync<Booking.Api.Capacity.CapacityDto>(HttpStatusCode.OK)).Capacity);
    }

    [Fact]
    public async Task A_service_whose_migration_PostgreSQL_refuses_after_an_outage_exits_with_a_failure_code()
    {
        // A table in the way of the performance service's first migration: PostgreSQL will refuse it.
        var database = await app.NewDatabaseAsync("refused_late");
        await using (var connection = new Npgsql.NpgsqlConnection(database))
        {
            await connection.OpenAsync();
            await using var command = new Npgsql.NpgsqlCommand("CREATE TABLE performances (in_the_way int)", connection);
            await command.ExecuteNonQueryAsync();
        }

        var log = new ConcurrentQueue<string>();
        var waiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Process? service = null;
        try
        {
            try
            {
                await app.StopPostgresAsync();
                service = StartPerformanceService(database, line =>
                {
                    log.Enqueue(line);
                    if (line.Contains("PostgreSQL did not answer", StringComparison.Ordinal))
                    {
                        waiting.TrySetResult();
                    }
                });

                // Started and waiting for PostgreSQL in the background (its first try found it away).
                await waiting.Task.WaitAsync(TimeSpan.FromSeconds(60));
            }
            finally
            {
                await app.StartPostgresAsync();
            }

            // The retry meets the refusal and stops the service: a failure, not a clean stop.
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await service.WaitForExitAsync(timeout.Token);
            Assert.True(service.ExitCode == 1, $"Exit code {service.ExitCode}:\n{string.Join('\n', log)}");
            Assert.Contains(log, line => line.Contains("Migrating PerformanceDbContext failed", StringComparison.Ordinal));
        }
        finally
        {
            if (service is { HasExited: false })
            {
                output.WriteLine($"The service was still running:\n{string.Join('\n', log)}");
                service.Kill(entireProcessTree: true);
            }

            service?.Dispose();
        }
    }

    /// <summary>The performance service's build, run as a process of its own (its exit code is what is tested).</summary>
    private Process StartPerformanceService(string database, Action<string> onLine)
    {
        var start = new ProcessStartInfo("dotnet", [BuiltProjects.Assembly("Booking.PerformanceStub")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment =
            {
                ["ASPNETCORE_URLS"] = "http://127.0.0.1:0",
                ["ConnectionStrings__performancedb"] = database,
                ["ConnectionStrings__redis"] = app.Dependencies.RedisConnectionString,
                ["Booking__Auth__SigningKey"] = TestTokens.SigningKey,
            },
        };
        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, line) => onLine(line.Data ?? string.Empty);
        process.ErrorDataReceived += (_, line) => onLine(line.Data ?? string.Empty);
        Assert.True(process.Start());
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        output.WriteLine($"performance service started as process {process.Id}");
        return process;
    }

    /// <summary>Time from now until an outbox row written from now on is marked sent.</summary>
    private async Task<TimeSpan> WaitForRelayAsync()
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        await using var db = app.NewDbContext();
        var after = await db.OutboxMessages.MaxAsync(m => (long?)m.Id) ?? 0;
        while (!await db.OutboxMessages.AnyAsync(m => m.Id > after && m.SentAt != null))
        {
            Assert.True(DateTime.UtcNow < deadline, "The relay never published again after PostgreSQL came back.");
            await Task.Delay(100);
        }

        return watch.Elapsed;
    }
}
