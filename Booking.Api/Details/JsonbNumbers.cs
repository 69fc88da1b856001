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
    /// The numbers of <paramref name="element"/>, in one walk: the longest written out (0 when it holds none), and
    /// how many characters writing them out adds (never less than 0 for one), which its text plus this takes stored.
    /// </summary>
    public static (long Longest, long Growth) In(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Number:
                var text = element.GetRawText();
                var length = WrittenOutLength(text);
                return (length, Math.Max(0, length - text.Length));
            case JsonValueKind.Object or JsonValueKind.Array:
                var children = element.ValueKind == JsonValueKind.Object
                    ? element.EnumerateObject().Select(p => p.Value)
                    : element.EnumerateArray();
                (long Longest, long Growth) all = (0, 0);
                foreach (var child in children)
                {
                    var (longest, growth) = In(child);
                    all = (Math.Max(all.Longest, longest), all.Growth + growth);
                }

                return all;
            default:
                return (0, 0);
        }
    }

    /// <summary>
    /// The characters the number takes written out as <c>jsonb</c> gives it back. The text must be a JSON number
    /// (<c>-?int(.frac)?([eE][+-]?exp)?</c>), as <see cref="JsonElement.GetRawText"/> hands it over.
    /// </summary>
    public static long WrittenOutLength(ReadOnlySpan<char> number)
    {
        var sign = number.Length > 0 && number[0] == '-' ? 1 : 0;
        var at = sign;
        var significant = 0;
        var fractionDigits = 0;
        var inFraction = false;
        for (; at < number.Length && number[at] is not ('e' or 'E'); at++)
        {
            var c = number[at];
            if (c == '.')
            {
                inFraction = true;
                continue;
            }

            // Leading zeros (of "0.05", say) are not digits of the value.
            if (significant > 0 || c != '0')
            {
                significant++;
            }

            fractionDigits += inFraction ? 1 : 0;
        }

        long exponent = 0;
        if (at < number.Length)
        {
            var digits = number[(at + 1)..];
            var negative = digits.Length > 0 && digits[0] == '-';
            digits = digits.Length > 0 && digits[0] is '-' or '+' ? digits[1..] : digits;
            digits = digits.TrimStart('0');
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
}
