using System.Text;
using System.Text.Json;

namespace Booking.Api.Details;

/// <summary>
/// How PostgreSQL's <c>jsonb</c> keeps a JSON number: as an exact decimal, written out in full when read back
/// (<c>1e3</c> comes back as <c>1000</c>, <c>1.0e-1</c> as <c>0.10</c>, <c>1e400</c> as 401 digits), and past about
/// 131,072 digits not at all (<c>1e200000</c> is refused with an error). So a few bytes of a caller's JSON can become
/// a large stored value; <see cref="DetailRules"/> bounds both the numbers and the data by their written-out size.
/// </summary>
public static class JsonbNumbers
{
    /// <summary>Exponents longer than this are far past any number PostgreSQL keeps; they are not parsed further.</summary>
    private const int MaxExponentDigits = 7;

    /// <summary>What <see cref="WrittenOutLength"/> says for those: more than any bound, and safe to add up.</summary>
    private const long Unkeepable = int.MaxValue;

    /// <summary>
    /// The characters the number takes written out as <c>jsonb</c> gives it back. The text must be a JSON number
    /// (<c>-?int(.frac)?([eE][+-]?exp)?</c>), as <see cref="Utf8JsonReader"/> and <see cref="JsonElement"/> hand it over.
    /// </summary>
    public static long WrittenOutLength(ReadOnlySpan<byte> number)
    {
        var sign = number.Length > 0 && number[0] == (byte)'-' ? 1 : 0;
        var at = sign;
        var significant = 0;
        var fractionDigits = 0;
        var inFraction = false;
        for (; at < number.Length && number[at] is not ((byte)'e' or (byte)'E'); at++)
        {
            var c = number[at];
            if (c == (byte)'.')
            {
                inFraction = true;
                continue;
            }

            // Leading zeros (of "0.05", say) are not digits of the value.
            if (significant > 0 || c != (byte)'0')
            {
                significant++;
            }

            fractionDigits += inFraction ? 1 : 0;
        }

        long exponent = 0;
        if (at < number.Length)
        {
            var digits = number[(at + 1)..];
            var negative = digits.Length > 0 && digits[0] == (byte)'-';
            digits = digits.Length > 0 && digits[0] is (byte)'-' or (byte)'+' ? digits[1..] : digits;
            digits = digits.TrimStart((byte)'0');
            if (digits.Length > MaxExponentDigits)
            {
                return Unkeepable;
            }

            foreach (var digit in digits)
            {
                exponent = (exponent * 10) + (digit - '0');
            }

            exponent = negative ? -exponent : exponent;
        }

        // The value is the significant digits times 10^shift; PostgreSQL keeps max(0, -shift) digits after the point.
        var shift = exponent - fractionDigits;
        var scale = Math.Max(0, -shift);
        var integerDigits = Math.Max(1, significant + shift);
        return Math.Min(Unkeepable, sign + integerDigits + (scale > 0 ? 1 + scale : 0));
    }

    /// <summary>The longest written-out number in <paramref name="element"/>, 0 when it holds none.</summary>
    public static long LongestIn(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Number => WrittenOutLength(Encoding.UTF8.GetBytes(element.GetRawText())),
        JsonValueKind.Object => element.EnumerateObject().Select(p => LongestIn(p.Value)).DefaultIfEmpty(0).Max(),
        JsonValueKind.Array => element.EnumerateArray().Select(LongestIn).DefaultIfEmpty(0).Max(),
        _ => 0,
    };

    /// <summary>
    /// How many bytes the numbers in <paramref name="element"/> add when written out (never less than 0 for one):
    /// its UTF-8 text plus this is what it takes stored and read back.
    /// </summary>
    public static long GrowthIn(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Number => Math.Max(0, WrittenOutLength(Encoding.UTF8.GetBytes(element.GetRawText())) - element.GetRawText().Length),
        JsonValueKind.Object => element.EnumerateObject().Sum(p => GrowthIn(p.Value)),
        JsonValueKind.Array => element.EnumerateArray().Sum(GrowthIn),
        _ => 0,
    };
}
