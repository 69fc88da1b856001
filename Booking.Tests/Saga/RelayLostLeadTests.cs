using Booking.AppHost.Hosting;
using Booking.SagaWorker.Outbox;
using Npgsql;

namespace Booking.Tests.Saga;

/// <summary>A fixture of its own: the test stops the worker's relay.</summary>
public sealed class RelayLostLeadTests(SagaApp app) : IClassFixture<SagaApp>
{
    [Fact]
    public async Task A_relay_stopping_after_it_lost_the_lead_marks_sent_the_events_Kafka_acknowledged_since()
    {
        await using var db = app.NewDbContext();
        await using var other = new NpgsqlConnection(app.BookingDb);
        await other.OpenAsync();
        try
        {
            var (relay, row) = await app.LeaveOutboxEventInFlightAsync(TimeSpan.FromSeconds(3));

            // The relay's session ends (a PostgreSQL restart, a network cut) and another takes the lead before it can.
            await using (var end = new NpgsqlCommand($"SELECT pg_terminate_backend({await app.RelayLeaderAsync()})", other))
            {
                await end.ExecuteScalarAsync();
            }

            // Waits for the ended session to let the lock go; the relay tries again only a second after its failure.
            await using (var take = new NpgsqlCommand($"SELECT pg_advisory_lock({OutboxRelay.LeaderLockKey})", other) { CommandTimeout = 10 })
            {
                await take.ExecuteScalarAsync();
            }

            // Kafka answers the delivery the relay left in flight, then the relay stops without leading again.
            await Task.Delay(TimeSpan.FromSeconds(4));
            await relay.StopAsync(CancellationToken.None);

            db.ChangeTracker.Clear();
            Assert.True((await db.OutboxMessages.SingleAsync(m => m.Id == row.Id)).SentAt is not null,
                "A relay that lost the lead stopped with a row Kafka acknowledged unmarked: the leader sends it again.");
        }
        finally
        {
            app.Kafka.SetBrokerRoundTrip(KafkaMockCluster.FirstBrokerId, TimeSpan.Zero);
        }
    }
}
