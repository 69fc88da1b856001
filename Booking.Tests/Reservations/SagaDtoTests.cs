using Booking.Core.Reservations;

namespace Booking.Tests.Reservations;

public sealed class SagaDtoTests
{
    [Fact]
    public void Steps_not_saved_yet_follow_the_saved_ones_as_in_the_event_of_a_saga_that_finishes_on_its_second_run()
    {
        // A first run saved ConfirmHold and a failed AllocateSection; the second run retried the allocation in that record
        // and adds CompleteReservation, whose id is 0 until the commit that also carries the completed event.
        var now = DateTimeOffset.UtcNow;
        SagaStep Step(long id, string name) => new() { Id = id, Name = name, Status = SagaStepStatus.Succeeded, StartedAt = now };
        var saga = new Booking.Core.Data.Saga { State = SagaState.Completed };
        saga.Steps.AddRange([Step(11, "AllocateSection"), Step(0, "CompleteReservation"), Step(10, "ConfirmHold"), Step(0, "Later")]);

        Assert.Equal(["ConfirmHold", "AllocateSection", "CompleteReservation", "Later"], SagaDto.From(saga).Steps.Select(s => s.Name));
    }
}
