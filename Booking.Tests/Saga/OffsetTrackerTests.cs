using Booking.SagaWorker.Saga;
using Confluent.Kafka;

namespace Booking.Tests.Saga;

public sealed class OffsetTrackerTests
{
    private static readonly TopicPartition Partition = new(Booking.Core.Outbox.BookingTopics.Requested, 0);

    [Fact]
    public void Commits_only_below_the_oldest_message_still_in_flight()
    {
        var tracker = new OffsetTracker();
        var first = tracker.Started(new TopicPartitionOffset(Partition, 10));
        var second = tracker.Started(new TopicPartitionOffset(Partition, 11));
        tracker.Finished(second);

        Assert.Equal(10, tracker.Committable().Single().Offset.Value);
        tracker.Finished(first);
        Assert.Equal(12, tracker.Committable().Single().Offset.Value);
    }

    [Fact]
    public void A_message_finishing_after_a_rebalance_neither_throws_nor_releases_the_same_offset_started_again()
    {
        var tracker = new OffsetTracker();
        var before = tracker.Started(new TopicPartitionOffset(Partition, 10));
        tracker.Revoked([Partition]);

        // Finishing a message whose partition was revoked used to throw (and skip giving back its consumer slot).
        tracker.Finished(before);

        // The partition came back and replays offset 10, now in flight again: the old finish must not release it.
        var replay = tracker.Started(new TopicPartitionOffset(Partition, 10));
        tracker.Finished(before);
        Assert.Equal(10, tracker.Committable().Single().Offset.Value);
        tracker.Finished(replay);
        Assert.Equal(11, tracker.Committable().Single().Offset.Value);
    }

    [Fact]
    public void Offsets_whose_commit_failed_are_offered_again_and_committed_ones_are_not()
    {
        var tracker = new OffsetTracker();
        tracker.Finished(tracker.Started(new TopicPartitionOffset(Partition, 10)));

        // The commit of the first offer failed: nothing was recorded, so the next interval offers the same offset.
        Assert.Equal(11, tracker.Committable().Single().Offset.Value);
        var again = tracker.Committable();
        Assert.Equal(11, again.Single().Offset.Value);

        tracker.Committed(again);
        Assert.Empty(tracker.Committable());
    }

    [Fact]
    public void A_revoke_forgets_only_the_partitions_it_takes_away()
    {
        // Cooperative assignment revokes some partitions and leaves the others in flight where they were.
        var kept = new TopicPartition(Partition.Topic, 1);
        var tracker = new OffsetTracker();
        var inFlight = tracker.Started(new TopicPartitionOffset(kept, 20));
        tracker.Finished(tracker.Started(new TopicPartitionOffset(kept, 21)));
        tracker.Started(new TopicPartitionOffset(Partition, 10));

        tracker.Revoked([Partition]);

        // Offset 20 of the kept partition is still in flight, so nothing past it may be committed.
        Assert.Equal(new TopicPartitionOffset(kept, 20), tracker.Committable().Single());
        tracker.Finished(inFlight);
        Assert.Equal(new TopicPartitionOffset(kept, 22), tracker.Committable().Single());
    }
}
