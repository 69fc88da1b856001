using Microsoft.Extensions.Hosting;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Booking.Tests.Http;

/// <summary>A token is validated in full once a minute at most, never trusted past its expiry, and a refused one is never remembered.</summary>
public sealed class ValidatedTokenCacheTests : IDisposable
{
    private readonly CountingHandler _inner = new();
    private readonly ShiftedClock _clock = new(TimeSpan.Zero);
    private readonly ValidatedTokenCache _cache;

    private readonly TokenValidationParameters _parameters = new()
    {
        ValidIssuer = BookingAuthentication.Issuer,
        ValidAudience = BookingAuthentication.Audience,
        IssuerSigningKey = BookingAuthentication.SigningKey(TestTokens.SigningKey),
        NameClaimType = BookingAuthentication.SubjectClaim,
    };

    public ValidatedTokenCacheTests() => _cache = new ValidatedTokenCache(_inner, _clock);

    [Fact]
    public async Task A_token_used_again_is_not_validated_again_and_each_use_gets_its_own_identity()
    {
        var token = TestTokens.For("ada");

        var first = await _cache.ValidateTokenAsync(token, _parameters);
        var second = await _cache.ValidateTokenAsync(token, _parameters);

        Assert.Equal(1, _inner.Calls);
        Assert.True(second.IsValid);
        Assert.Equal("ada", second.ClaimsIdentity.Name);
        Assert.NotSame(first.ClaimsIdentity, second.ClaimsIdentity);
        Assert.Same(first.SecurityToken, second.SecurityToken);
    }

    [Fact]
    public async Task A_remembered_token_is_validated_in_full_again_after_its_expiry_and_after_a_minute()
    {
        var key = BookingAuthentication.SigningKey(TestTokens.SigningKey);
        var shortLived = BookingAuthentication.CreateToken(key, "ada", [], _clock.GetUtcNow(), TimeSpan.FromSeconds(10));
        await _cache.ValidateTokenAsync(shortLived, _parameters);
        await _cache.ValidateTokenAsync(shortLived, _parameters);
        Assert.Equal(1, _inner.Calls);
        _clock.Advance(TimeSpan.FromSeconds(11));
        await _cache.ValidateTokenAsync(shortLived, _parameters);
        Assert.Equal(2, _inner.Calls);

        var token = BookingAuthentication.CreateToken(key, "ada", [], _clock.GetUtcNow(), TimeSpan.FromHours(1));
        await _cache.ValidateTokenAsync(token, _parameters);
        await _cache.ValidateTokenAsync(token, _parameters);
        Assert.Equal(3, _inner.Calls);
        _clock.Advance(ValidatedTokenCache.MaxAge);
        await _cache.ValidateTokenAsync(token, _parameters);
        Assert.Equal(4, _inner.Calls);
    }

    [Fact]
    public async Task A_refused_token_is_refused_every_time_and_never_remembered()
    {
        var token = TestTokens.For("ada");
        var tampered = token[..^4] + (token[^4] == 'A' ? "BBBB" : "AAAA");

        var first = await _cache.ValidateTokenAsync(tampered, _parameters);
        var second = await _cache.ValidateTokenAsync(tampered, _parameters);

        Assert.False(first.IsValid);
        Assert.False(second.IsValid);
        Assert.Equal(2, _inner.Calls);
    }

    public void Dispose() => _cache.Dispose();

    private sealed class CountingHandler : TokenHandler
    {
        private readonly JsonWebTokenHandler _handler = new() { MapInboundClaims = false };

        public int Calls { get; private set; }

        public override Task<TokenValidationResult> ValidateTokenAsync(string token, TokenValidationParameters validationParameters)
        {
            Calls++;
            return _handler.ValidateTokenAsync(token, validationParameters);
        }
    }
}
