namespace Booking.Tests.Infrastructure;

/// <summary>
/// Tests that put the whole machine under load (hundreds of users, a thousand-booking race, minutes of outage) run one
/// at a time, after the others, so they neither starve each other nor disturb the timing of the rest of the suite.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HeavyLoad
{
    public const string Name = "Heavy load";
}
