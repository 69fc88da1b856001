using Microsoft.Extensions.Caching.Memory;
using Microsoft.IdentityModel.Tokens;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// A token handler that remembers the tokens it validated, so a client that sends the same bearer token on every
/// request (every client does) pays for its parsing and signature check once a minute rather than on every request.
/// Only valid results are kept, never past the token's expiry nor longer than <see cref="MaxAge"/> (which bounds
/// how long a key removed from configuration still counts); a refused token is checked in full every time. Each
/// request gets its own copy of the identity. Bounded: <see cref="MaxTokens"/> tokens of at most
/// <see cref="MaxTokenLength"/> characters; longer ones are not kept.
/// </summary>
public sealed class ValidatedTokenCache(TokenHandler inner, TimeProvider time) : TokenHandler, IDisposable
{
    public const int MaxTokens = 10_000;
    public const int MaxTokenLength = 4_096;
    public static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(1);

    private readonly MemoryCache _validated = new(new MemoryCacheOptions { SizeLimit = MaxTokens });

    public override async Task<TokenValidationResult> ValidateTokenAsync(string token, TokenValidationParameters validationParameters)
    {
        ArgumentNullException.ThrowIfNull(token);
        var now = time.GetUtcNow();
        if (token.Length <= MaxTokenLength && _validated.TryGetValue(token, out Remembered? known) && now < known!.Until)
        {
            return known.Copy();
        }

        var result = await inner.ValidateTokenAsync(token, validationParameters).ConfigureAwait(false);
        if (result is { IsValid: true, ClaimsIdentity: { } identity, SecurityToken: { } securityToken } && token.Length <= MaxTokenLength
            && securityToken.ValidTo > DateTime.MinValue)
        {
            var until = new[] { new DateTimeOffset(securityToken.ValidTo, TimeSpan.Zero), now + MaxAge }.Min();
            if (until > now)
            {
                _validated.Set(token, new Remembered(identity.Clone(), securityToken, result.Issuer, result.TokenType, until),
                    new MemoryCacheEntryOptions { AbsoluteExpiration = until, Size = 1 });
            }
        }

        return result;
    }

    public void Dispose() => _validated.Dispose();

    private sealed record Remembered(System.Security.Claims.ClaimsIdentity Identity, SecurityToken Token, string Issuer, string TokenType, DateTimeOffset Until)
    {
        public TokenValidationResult Copy() => new()
        {
            IsValid = true,
            ClaimsIdentity = Identity.Clone(),
            SecurityToken = Token,
            Issuer = Issuer,
            TokenType = TokenType,
        };
    }
}
