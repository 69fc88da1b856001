using System.Data.Common;
using System.Text.Json;
using Booking.Api.Reservations;
using Booking.Core.Holds;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Booking.Tests.Reservations;

/// <summary>The booking API with a hook that runs once, right before the API's next query of reservation details.</summary>
public sealed class ListWhileWritingApp(Dependencies dependencies) : BookingApp(dependencies)
{
    private readonly BeforeDetailsQuery _hook = new();

    /// <summary>Runs <paramref name="write"/> before the API next queries reservation details, once.</summary>
    public void BeforeNextDetailsQuery(Func<Task> write) => _hook.Armed = write;

    protected override void ConfigureApiServices(IServiceCollection services) =>
        services.ConfigureDbContext<BookingDbContext>(options => options.AddInterceptors(_hook));

    private sealed class BeforeDetailsQuery : DbCommandInterceptor
    {
        private Func<Task>? _armed;

        public Func<Task>? Armed { set => _armed = value; }

        public override async ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(
            DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default)
        {
            if (command.CommandText.Contains("reservation_details", StringComparison.Ordinal) && Interlocked.Exchange(ref _armed, null) is { } write)
            {
                await write();
            }

            return result;
        }
    }
}

public sealed class ListWhileWritingTests(ListWhileWritingApp app) : IClassFixture<ListWhileWritingApp>
{
    [Fact]
    public async Task A_reservation_stored_while_a_page_is_read_leaves_the_pages_details_whole()
    {
        var performance = await app.CreatePerformanceAsync(("A", 1, 5));
        var user = $"list-{Guid.NewGuid():N}";
        using var client = app.Client(user);
        var made = new List<Guid>();
        for (var seat = 1; seat <= 3; seat++)
        {
            var hold = await client.HoldSeatsAsync(performance, $"A-1-{seat}");
            made.Add((await client.ReserveAsync(hold.HoldId, new[] { new { type = "NOTE", data = (object)new { text = $"seat {seat}" } } })).Id);
        }

        // A newer reservation of the same caller, with a detail, lands between the page's query and its details' query.
        app.BeforeNextDetailsQuery(async () =>
        {
            var now = DateTimeOffset.UtcNow;
            await using var db = app.NewDbContext();
            db.Reservations.Add(new Reservation
            {
                Id = Guid.CreateVersion7(now),
                UserId = user,
                Domain = BookingDomain.Restaurant,
                ResourceId = "bistro",
                Slot = "2026-12-24T19:00",
                Quantity = 2,
                HoldId = Guid.NewGuid(),
                Status = ReservationStatus.Pending,
                CreatedAt = now,
                UpdatedAt = now,
                Details = [new ReservationDetail { Type = "NOTE", Data = JsonDocument.Parse("""{"text":"newer"}"""), CreatedAt = now, UpdatedAt = now }],
            });
            await db.SaveChangesAsync();
        });

        var page = await (await client.GetAsync("/api/reservations")).ReadAsync<ReservationPage>(HttpStatusCode.OK);

        Assert.Equal(Enumerable.Reverse(made), page.Items.Select(r => r.Id));
        Assert.All(page.Items, r => Assert.Single(r.Details));
    }
}
