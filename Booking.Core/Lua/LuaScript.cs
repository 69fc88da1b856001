using System.Security.Cryptography;
using System.Text;

namespace Booking.Core.Lua;

/// <summary>One Lua script of <c>lua/</c>, with the shared libraries it declares prepended, and its SHA1 for EVALSHA.</summary>
public sealed class LuaScript
{
    public LuaScript(string name, string body)
    {
        Name = name;
        Body = body;
#pragma warning disable CA5350 // SHA1 is what Redis names scripts by (EVALSHA), not a security measure.
        Sha1 = SHA1.HashData(Encoding.UTF8.GetBytes(body));
#pragma warning restore CA5350
    }

    /// <summary>The file name without extension, also the name of its <c>Booking.Lua</c> span.</summary>
    public string Name { get; }

    public string Body { get; }

    public byte[] Sha1 { get; }

    public override string ToString() => Name;
}
