using Booking.Core.Outbox;
using Npgsql;

namespace Booking.Tests.Saga;

/// <summary>The relay listens instead of polling: a transaction that adds outbox rows notifies it when it commits.</summary>
public sealed class OutboxNotifyTests(BookingApp app) : IClassFixture<BookingApp>
{
    [Fact]
    public async Task A_commit_adding_outbox_rows_notifies_the_relay_channel_once_and_only_after_it_commits()
    {
        await using var listener = new NpgsqlConnection(app.BookingDb);
        await listener.OpenAsync();
        var notifications = new List<string>();
        listener.Notification += (_, e) => notifications.Add(e.Channel);
        await using (var listen = new NpgsqlCommand($"LISTEN {OutboxMessage.NotifyChannel}", listener))
        {
            await listen.ExecuteNonQueryAsync();
        }

        await using var db = app.NewDbContext();
        await using (var transaction = await db.Database.BeginTransactionAsync())
        {
            var now = DateTimeOffset.UtcNow;
            for (var i = 0; i < 3; i++)
            {
                var reservation = new Reservation { Id = Guid.CreateVersion7(), UserId = "alice", ResourceId = "notify", CreatedAt = now, UpdatedAt = now };
                OutboxWriter.Add(db, BookingTopics.Requested, reservation, now);
                await db.SaveChangesAsync();
            }

            Assert.False(await listener.WaitAsync(TimeSpan.FromMilliseconds(300)), "notified before the commit");
            await transaction.CommitAsync();
        }

        Assert.True(await listener.WaitAsync(TimeSpan.FromSeconds(10)), "no notification after the commit");
        Assert.False(await listener.WaitAsync(TimeSpan.FromMilliseconds(300)), "more than one notification for one transaction");
        Assert.Equal([OutboxMessage.NotifyChannel], notifications);
    }

    [Fact]
    public async Task The_leaders_session_has_server_side_keepalives_so_a_dead_leader_gives_up_its_lock_within_a_minute()
    {
        await using var leadership = new NpgsqlConnection(Booking.SagaWorker.Outbox.OutboxRelay.LeadershipConnectionString(app.BookingDb));
        await leadership.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT current_setting('tcp_keepalives_idle'), current_setting('tcp_keepalives_interval'), current_setting('tcp_keepalives_count')", leadership);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(("30", "10", "3"), (reader.GetString(0), reader.GetString(1), reader.GetString(2)));
    }
}
