using Booking.AppHost.Hosting;
using Booking.Core.Outbox;
using Booking.SagaWorker.Outbox;
using Npgsql;

namespace Booking.Tests.Saga;

/// <summary>One relay publishes at a time, also while a backlog keeps every batch full.</summary>
public sealed class RelayLeadershipTests(SagaApp app) : IClassFixture<SagaApp>
{
    private const int Backlog = 200_000;

    [Fact]
    public async Task A_relay_whose_session_ended_in_the_middle_of_a_backlog_stops_publishing_while_another_holds_the_lock()
    {
        // Each wave of a batch then waits a round trip (shorter than the relay's stall, so waves settle in order): the
        // backlog lasts many seconds on any machine.
        app.Kafka.SetBrokerRoundTrip(KafkaMockCluster.FirstBrokerId, TimeSpan.FromMilliseconds(40));
        await using var db = new NpgsqlConnection(app.BookingDb);
        await db.OpenAsync();
        await app.AddOutboxBacklogAsync(Backlog);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await app.OutboxSentCountAsync() == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "The relay did not start on the backlog in 30 s.");
            await Task.Delay(20);
        }

        // The leader's session ends (an idle timeout, an operator's pg_terminate_backend) and another relay, this
        // test's session, takes the lock at once. Not pooled, as the relay's own: closing it gives the lock back.
        await using var other = new NpgsqlConnection(OutboxRelay.LeadershipConnectionString(app.BookingDb));
        await other.OpenAsync();
        var leader = await LeaderAsync();
        await ExecuteAsync(db, $"SELECT pg_terminate_backend({leader})");
        while (!(bool)(await ScalarAsync(other, $"SELECT pg_try_advisory_lock({OutboxRelay.LeaderLockKey})"))!)
        {
            Assert.True(DateTime.UtcNow < deadline, "The ended session kept the lock.");
            await Task.Delay(10);
        }

        // The old leader notices within its once-a-second check and the batch it was publishing (a wave waits 2 s at
        // most), and then publishes nothing more.
        var leadership = app.WorkerServices.GetRequiredService<RelayLeadership>();
        deadline = DateTime.UtcNow.AddSeconds(30);
        while (leadership.Leading)
        {
            Assert.True(DateTime.UtcNow < deadline, "The old leader still leads 30 s after another relay took the lock.");
            await Task.Delay(10);
        }

        var before = await app.OutboxSentCountAsync();
        await Task.Delay(TimeSpan.FromSeconds(3));
        var after = await app.OutboxSentCountAsync();
        Assert.True(before == after, $"The old leader sent {after - before} rows while another relay held the lock.");
        Assert.True(after < Backlog, $"The whole backlog was sent ({after} rows), so this proves nothing: make it larger.");

        // The lock given back, the relay leads again and sends what is left (most of it deleted, for time).
        await ExecuteAsync(db, "DELETE FROM outbox_messages WHERE sent_at IS NULL AND id NOT IN (SELECT id FROM outbox_messages WHERE sent_at IS NULL ORDER BY id LIMIT 1000)");
        app.Kafka.SetBrokerRoundTrip(KafkaMockCluster.FirstBrokerId, TimeSpan.Zero);
        await other.CloseAsync();
        deadline = DateTime.UtcNow.AddSeconds(30);
        while ((long)(await ScalarAsync(db, "SELECT count(*) FROM outbox_messages WHERE sent_at IS NULL"))! > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, $"The relay did not lead again in 30 s. The worker's last warnings:{Environment.NewLine}{app.WorkerWarnings}");
            await Task.Delay(100);
        }
    }

    /// <summary>The backend holding the relay's lock in this database.</summary>
    private async Task<int> LeaderAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            if (await app.RelayLeaderAsync() is { } pid)
            {
                return pid;
            }

            Assert.True(DateTime.UtcNow < deadline, "No session held the relay's lock for 30 s.");
            await Task.Delay(10);
        }
    }

    private static async Task<object?> ScalarAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
