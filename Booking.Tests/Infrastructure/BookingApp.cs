using Booking.Api;
using Booking.Core;
using Booking.PerformanceStub;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace Booking.Tests.Infrastructure;

/// <summary>
/// Booking.Api and Booking.PerformanceStub hosted in-process against the real Redis and PostgreSQL, each with a
/// database of its own. The API reaches the stub through its normal HTTP client and service discovery.
/// </summary>
public class BookingApp(Dependencies dependencies) : IAsyncLifetime
{
    private WebApplicationFactory<PerformanceStubAssembly> _stub = null!;
    private WebApplicationFactory<ApiAssembly> _api = null!;

    /// <summary>The in-process performance service, for hosts that reach it through its test handler.</summary>
    protected WebApplicationFactory<PerformanceStubAssembly> Stub => _stub;

    public Dependencies Dependencies => dependencies;

    public string BookingDb { get; private set; } = null!;

    /// <summary>The Redis the services use (a fixture with a Redis of its own answers with that one).</summary>
    public virtual IDatabase Redis => dependencies.RedisConnection.GetDatabase();

    /// <summary>Settings a test class can change (for example a short hold TTL) before the app starts.</summary>
    protected virtual IEnumerable<KeyValuePair<string, string?>> Settings => [];

    public async ValueTask InitializeAsync()
    {
        await BeforeStartAsync();
        BookingDb = await CreateDatabaseAsync("booking");
        var performanceDb = PerformanceDb = await CreateDatabaseAsync("performance");

        _stub = new WebApplicationFactory<PerformanceStubAssembly>().WithWebHostBuilder(web =>
        {
            web.UseEnvironment("Development");
            web.UseSetting("ConnectionStrings:performancedb", performanceDb);
            web.UseSetting("Chaos:Enabled", "true");
            // Idle section loops retire quickly, so a test can watch them go.
            web.UseSetting("Allocations:IdleTimeout", "00:00:01");
            web.UseSetting(BookingAuthentication.SigningKeySetting, TestTokens.SigningKey);
            web.UseSetting("ConnectionStrings:redis", dependencies.RedisConnectionString);
        });
        _ = _stub.Server;

        _api = new WebApplicationFactory<ApiAssembly>().WithWebHostBuilder(web =>
        {
            web.UseEnvironment("Development");
            web.UseSetting("ConnectionStrings:redis", dependencies.RedisConnectionString);
            web.UseSetting("ConnectionStrings:bookingdb", BookingDb);
            web.UseSetting("services:performance-stub:http:0", "http://performance-stub.test");
            web.UseSetting(BookingAuthentication.SigningKeySetting, TestTokens.SigningKey);
            foreach (var (key, value) in Settings)
            {
                web.UseSetting(key, value);
            }

            web.ConfigureServices(services =>
            {
                services.AddHttpClient<Api.Seats.PerformanceClient>().ConfigurePrimaryHttpMessageHandler(() => _stub.Server.CreateHandler());
                ConfigureApiServices(services);
            });
        });
        _ = _api.Server;
        // A service whose database did not answer at start still starts; a fixture needs it migrated, so says so at once.
        if (!_stub.Services.GetRequiredService<DatabaseMigrator<PerformanceStub.Data.PerformanceDbContext>>().Applied
            || !_api.Services.GetRequiredService<DatabaseMigrator<BookingDbContext>>().Applied)
        {
            throw new InvalidOperationException("A service's database was not migrated at its start (PostgreSQL did not answer).");
        }

        await StartMoreAsync();
    }

    /// <summary>Changes the API's services (a skewed clock, say).</summary>
    protected virtual void ConfigureApiServices(IServiceCollection services)
    {
    }

    /// <summary>Starts what a derived fixture needs before the services (a Redis of its own, say).</summary>
    protected virtual Task BeforeStartAsync() => Task.CompletedTask;

    /// <summary>A new database for one of the services; on the shared PostgreSQL unless a fixture has its own.</summary>
    protected virtual Task<string> CreateDatabaseAsync(string prefix) => dependencies.CreateDatabaseAsync(prefix);

    /// <summary>Starts whatever a derived fixture adds (the saga worker, Kafka) once the API is up.</summary>
    protected virtual Task StartMoreAsync() => Task.CompletedTask;

    /// <summary>Stops what <see cref="StartMoreAsync"/> started.</summary>
    protected virtual ValueTask StopMoreAsync() => ValueTask.CompletedTask;

    /// <summary>A client of the booking API acting as <paramref name="userId"/> with a bearer token (none when null).</summary>
    public HttpClient Client(string? userId = "alice", params string[] roles)
    {
        var client = _api.CreateClient();
        if (userId is not null)
        {
            client.DefaultRequestHeaders.Authorization = TestTokens.Bearer(userId, roles);
        }

        return client;
    }

    /// <summary>A client of the performance service as an admin (creates performances, sets chaos).</summary>
    public HttpClient StubClient() => StubClient(TestTokens.Admin);

    /// <summary>A client of the performance service with the given credentials (none when null).</summary>
    public HttpClient StubClient(System.Net.Http.Headers.AuthenticationHeaderValue? authorization)
    {
        var client = _stub.CreateClient();
        client.DefaultRequestHeaders.Authorization = authorization;
        return client;
    }

    public string PerformanceDb { get; private set; } = null!;

    public BookingDbContext NewDbContext() => new(
        new DbContextOptionsBuilder<BookingDbContext>().UseNpgsql(BookingDb).UseSnakeCaseNamingConvention().Options);

    /// <summary>
    /// A PENDING performance reservation of <paramref name="holdId"/> with its saga (and <paramref name="steps"/>), written
    /// straight to PostgreSQL as the API writes it but without a requested event, and due only in an hour: nothing but
    /// the test runs its saga.
    /// </summary>
    public async Task<Guid> AddPendingReservationAsync(string performanceId, IReadOnlyList<string> seatIds, Guid holdId, List<SagaStep>? steps = null)
    {
        var now = DateTimeOffset.UtcNow;
        var reservation = new Reservation
        {
            Id = Guid.CreateVersion7(now),
            UserId = "alice",
            Domain = Booking.Core.Holds.BookingDomain.Performance,
            ResourceId = performanceId,
            SeatIds = [.. seatIds],
            HoldId = holdId,
            Status = ReservationStatus.Pending,
            CreatedAt = now,
            UpdatedAt = now,
            Saga = new Booking.Core.Data.Saga
            {
                State = SagaState.Started,
                CreatedAt = now,
                UpdatedAt = now,
                NextAttemptAt = now.AddHours(1),
                DeadlineAt = now.AddMinutes(5),
                Steps = steps ?? [],
            },
        };
        await using var db = NewDbContext();
        db.Reservations.Add(reservation);
        await db.SaveChangesAsync();
        return reservation.Id;
    }

    public T Service<T>() where T : notnull => _api.Services.GetRequiredService<T>();

    public T StubService<T>() where T : notnull => _stub.Services.GetRequiredService<T>();

    /// <summary>Creates a performance in the stub and returns its id.</summary>
    public async Task<string> CreatePerformanceAsync(params (string Code, int Rows, int SeatsPerRow)[] sections)
    {
        using var stub = StubClient();
        var response = await stub.PostAsJsonAsync("/performances", new
        {
            title = "Test performance",
            startsAt = DateTimeOffset.UtcNow.AddDays(30),
            sections = sections.Select(s => new { code = s.Code, rows = s.Rows, seatsPerRow = s.SeatsPerRow }),
        }, BookingJson.Options);
        response.EnsureSuccessStatusCode();
        var created = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        return created.GetProperty("id").GetString()!;
    }

    public async ValueTask DisposeAsync()
    {
        await StopMoreAsync();
        if (_api is not null)
        {
            await _api.DisposeAsync();
        }

        if (_stub is not null)
        {
            await _stub.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }
}
