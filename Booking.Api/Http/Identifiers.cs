using System.Collections.Frozen;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Booking.Api.Http;

/// <summary>Shapes of the ids and slots that appear in paths, checked before they reach Redis or PostgreSQL.</summary>
public static partial class Identifiers
{
    /// <summary>What <see cref="IsResourceId"/> accepts, as a validation message.</summary>
    public const string ResourceIdRule = "Must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.";

    public static bool IsResourceId(string? value) => value is not null && ResourceIdPattern().IsMatch(value);

    /// <summary>
    /// A performance id is the performance service's UUID. Written in any form a path id may take that a UUID parses
    /// from (upper case, without dashes), it is taken in its one canonical form, lower case with dashes: every key in Redis and every
    /// row in PostgreSQL names the performance that way, so one performance is never two (with its seats sold twice).
    /// </summary>
    public static bool TryPerformanceId(string? value, out string canonical)
    {
        var parsed = Guid.TryParse(value, out var id);
        canonical = parsed ? id.ToString("D") : string.Empty;
        return parsed;
    }

    /// <summary>A slot is a day (<c>2026-12-01</c>) or a day and time (<c>2026-12-01T19:00</c>) that exists.</summary>
    public static bool IsSlot(string? value) =>
        value is not null
        && SlotPattern().IsMatch(value)
        && DateTime.TryParseExact(value, ["yyyy-MM-dd", "yyyy-MM-dd'T'HH:mm"], CultureInfo.InvariantCulture, DateTimeStyles.None, out _);

    /// <summary>
    /// A value named in a path or query (<c>EXHIBITION</c>, <c>held</c>): one of the enum's names in any case, never a
    /// number or a comma-separated list of names (which <see cref="Enum.TryParse{TEnum}(string?, bool, out TEnum)"/>
    /// would combine into one value).
    /// </summary>
    public static bool TryEnumName<TEnum>(string? value, out TEnum parsed) where TEnum : struct, Enum
    {
        parsed = default;
        return value is not null && Names<TEnum>.ByName.TryGetValue(value, out parsed);
    }

    private static class Names<TEnum> where TEnum : struct, Enum
    {
        public static readonly FrozenDictionary<string, TEnum> ByName =
            Enum.GetNames<TEnum>().ToFrozenDictionary(name => name, Enum.Parse<TEnum>, StringComparer.OrdinalIgnoreCase);
    }

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\z")]
    private static partial Regex ResourceIdPattern();

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2})?\z")]
    private static partial Regex SlotPattern();
}
