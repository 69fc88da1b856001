using Booking.SagaWorker.Saga;

namespace Booking.Tests.Saga;

public sealed class SagaClaimsTests
{
    [Fact]
    public void A_saga_another_run_claimed_after_this_one_gave_it_back_stays_claimed_when_this_run_ends()
    {
        var claims = new SagaClaims();
        Guid a = Guid.NewGuid(), b = Guid.NewGuid(), c = Guid.NewGuid();
        var batch = claims.Claim([a, b]);
        Assert.Equal(new[] { c }, claims.Claim([a, c]).Ids);

        // The batch hands a back early (b goes on alone); the sweep claims a for a run of its own.
        batch.Release(a);
        using var sweep = claims.Claim([a]);
        Assert.Equal(new[] { a }, sweep.Ids);

        // The batch ends: it gives back b, and leaves a to the sweep's run, so nobody else can start a meanwhile.
        batch.Dispose();
        Assert.False(claims.IsClaimed(b));
        Assert.True(claims.IsClaimed(a));
        Assert.Empty(claims.Claim([a]).Ids);

        sweep.Dispose();
        Assert.False(claims.IsClaimed(a));
    }
}
