namespace Booking.Tests.Saga;

/// <summary>The whole system with the API on a machine whose clock is ten minutes slow.</summary>
public sealed class SlowApiClockApp(Dependencies dependencies) : SagaApp(dependencies)
{
    public static readonly TimeSpan Skew = TimeSpan.FromMinutes(-10);

    protected override IEnumerable<KeyValuePair<string, string?>> Settings => [.. base.Settings, new("Booking:SagaTimeout", "00:00:10")];

    protected override void ConfigureApiServices(IServiceCollection services) =>
        services.AddKeyedSingleton<TimeProvider>(DatabaseClock.LocalClockKey, new ShiftedClock(Skew));
}

/// <summary>Times the API writes and the worker reads are on one clock, PostgreSQL's, whatever the machines' clocks say.</summary>
public sealed class ClockSkewTests(SlowApiClockApp app) : IClassFixture<SlowApiClockApp>
{
    [Fact]
    public async Task The_api_writes_the_databases_time_and_a_whole_saga_deadline_even_when_its_own_clock_is_ten_minutes_slow()
    {
        // The API measures the offset itself: at start-up, and every minute (a first reading that a start-up slowed by the
        // rest of the suite cut short is taken again within seconds).
        var clock = app.Service<DatabaseClock>();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while ((clock.Offset - -SlowApiClockApp.Skew).Duration() > TimeSpan.FromSeconds(2))
        {
            Assert.True(DateTime.UtcNow < deadline, $"The API's offset to PostgreSQL's clock is {clock.Offset}, not about {-SlowApiClockApp.Skew}.");
            await Task.Delay(200);
        }

        var performance = await app.CreatePerformanceAsync(("A", 1, 2));
        using var client = app.Client();
        await using var db = app.NewDbContext();
        Task<DateTimeOffset> DatabaseNowAsync() => db.Database.SqlQueryRaw<DateTimeOffset>("SELECT now() AS \"Value\"").SingleAsync();
        var before = await DatabaseNowAsync();
        var reservation = await client.ReserveAsync((await client.HoldSeatsAsync(performance, "A-1-1")).HoldId);
        var after = await DatabaseNowAsync();

        var saga = await db.Sagas.AsNoTracking().SingleAsync(s => s.ReservationId == reservation.Id);
        // Within the offset's accepted error (2 s, above) of the database's clock, however long the calls took.
        Assert.InRange(reservation.CreatedAt, before - TimeSpan.FromSeconds(2), after + TimeSpan.FromSeconds(2));
        // The worker compares the deadline with its own reading of the same clock: the saga gets all of its ten seconds.
        Assert.Equal(TimeSpan.FromSeconds(10), saga.DeadlineAt - reservation.CreatedAt);
        Assert.Equal(ReservationStatus.Confirmed, (await app.WaitForFinalAsync(reservation.Id)).Status);
    }
}
