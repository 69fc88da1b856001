using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using Booking.Api.Http;
using Booking.Core.Holds;

namespace Booking.Api.Details;

/// <summary>
/// Which detail types each domain knows and what their <c>data</c> must hold. Fields beyond the checked ones are
/// kept as given: <c>data</c> is the domain's own JSON.
/// </summary>
public static class DetailRules
{
    public const int MaxDataBytes = 16 * 1024;

    /// <summary>
    /// All details of one reservation together: what a reservation read, a page of 200 and every event snapshot
    /// carry stays bounded (200 x 64 KiB at most per page), far below Kafka's 1 MB message limit per event.
    /// </summary>
    public const int MaxTotalBytes = 64 * 1024;

    /// <summary>
    /// The most characters a number in <c>data</c> may take written out in full, as <c>jsonb</c> keeps it (see
    /// <see cref="JsonbNumbers"/>): any integer of a 64-bit type or decimal fraction a client sends fits.
    /// </summary>
    public const int MaxNumberLength = 100;

    /// <summary>
    /// How deep <c>data</c> may nest (the object itself is one level). A reservation, a page of them and an event each
    /// wrap a detail's data in up to five more levels, and JSON is written at most 64 deep: deeper data would be
    /// stored and then break every read and event that carries it.
    /// </summary>
    public const int MaxDataDepth = 32;

    /// <summary>A note's text.</summary>
    private const int MaxTextLength = 2000;

    /// <summary>A name or a preference inside a detail (a seat's holder, a table's wish).</summary>
    private const int MaxShortTextLength = 200;

    private static readonly string[] TicketTypes = ["ADULT", "CHILD", "SENIOR", "STUDENT"];

    /// <summary>How the API writes JSON (ASP.NET Core's relaxed escaping): text as it is, only what JSON requires escaped.</summary>
    private static readonly JsonWriterOptions AsTheApiWrites = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// The bytes <paramref name="data"/> takes as the API writes it (no spaces; text as it is, only quotes, backslashes,
    /// control characters and characters past U+FFFF escaped), numbers written out in full: alike for the JSON a caller
    /// sent, however it was spaced or escaped, and for what <c>jsonb</c> gives back (which adds spaces), and what every
    /// answer and event that carries the data takes.
    /// </summary>
    public static long Size(JsonElement data) => Size(data, JsonbNumbers.In(data).Growth);

    private static long Size(JsonElement data, long numbersGrowth)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, AsTheApiWrites))
        {
            data.WriteTo(writer);
        }

        return buffer.WrittenCount + numbersGrowth;
    }

    public static long Size(JsonDocument data) => Size(data.RootElement);

    /// <summary>Adds an error when details of <paramref name="totalBytes"/> together are over <see cref="MaxTotalBytes"/>.</summary>
    public static void CheckTotal(Validation validation, long totalBytes) =>
        validation.Check(totalBytes <= MaxTotalBytes, "details", $"A reservation's details hold at most {MaxTotalBytes / 1024} KiB of data together.");

    public static IReadOnlyList<string> TypesOf(BookingDomain domain) => domain switch
    {
        BookingDomain.Performance => ["SEAT", "NOTE"],
        BookingDomain.Exhibition => ["TICKET", "NOTE"],
        _ => ["TABLE", "NOTE"],
    };

    /// <summary>Checks one detail of a reservation with the given seats and quantity; errors go under <paramref name="prefix"/>.</summary>
    public static void Validate(Validation validation, string prefix, BookingDomain domain, IReadOnlyList<string> seatIds, int quantity, string? type, JsonElement? data)
    {
        var known = TypesOf(domain);
        if (type is null || !known.Contains(type, StringComparer.Ordinal))
        {
            validation.Add($"{prefix}type", $"Must be one of {string.Join(", ", known)} for a {domain.ToString().ToUpperInvariant()} reservation.");
            return;
        }

        if (data is not { ValueKind: JsonValueKind.Object } obj)
        {
            validation.Add($"{prefix}data", "Must be a JSON object.");
            return;
        }

        if (NestsDeeperThan(obj, MaxDataDepth))
        {
            validation.Add($"{prefix}data", $"Must nest at most {MaxDataDepth} objects or arrays deep.");
            return;
        }

        var numbers = JsonbNumbers.In(obj);
        if (numbers.Longest > MaxNumberLength)
        {
            validation.Add($"{prefix}data", $"Numbers must take at most {MaxNumberLength} characters written out in full (1e99 takes 100): PostgreSQL keeps them so.");
            return;
        }

        if (Size(obj, numbers.Growth) > MaxDataBytes)
        {
            validation.Add($"{prefix}data", $"Must be at most {MaxDataBytes / 1024} KiB, numbers written out in full.");
            return;
        }

        var field = $"{prefix}data.";
        switch (type)
        {
            case "SEAT":
                var seat = String(obj, "seatId");
                validation.Check(seat is not null && seatIds.Contains(seat, StringComparer.Ordinal), field + "seatId", "Must be one of the reservation's seats.");
                OptionalText(validation, obj, field, "holderName", MaxShortTextLength);
                break;
            case "TICKET":
                var ticketType = String(obj, "ticketType");
                validation.Check(ticketType is not null && TicketTypes.Contains(ticketType, StringComparer.Ordinal), field + "ticketType", $"Must be one of {string.Join(", ", TicketTypes)}.");
                var count = Integer(obj, "count");
                validation.Check(count is >= 1 && count <= quantity, field + "count", $"Must be a whole number from 1 to {quantity}.");
                break;
            case "TABLE":
                var partySize = Integer(obj, "partySize");
                validation.Check(partySize is >= 1 && partySize <= quantity, field + "partySize", $"Must be a whole number from 1 to {quantity}.");
                OptionalText(validation, obj, field, "preference", MaxShortTextLength);
                break;
            default:
                var text = String(obj, "text");
                validation.Check(text is { Length: >= 1 and <= MaxTextLength }, field + "text", $"Must be text of 1 to {MaxTextLength} characters.");
                break;
        }
    }

    private static bool NestsDeeperThan(JsonElement element, int levels) => element.ValueKind switch
    {
        JsonValueKind.Object => levels == 0 || element.EnumerateObject().Any(property => NestsDeeperThan(property.Value, levels - 1)),
        JsonValueKind.Array => levels == 0 || element.EnumerateArray().Any(item => NestsDeeperThan(item, levels - 1)),
        _ => false,
    };

    private static void OptionalText(Validation validation, JsonElement obj, string field, string name, int maxLength)
    {
        if (obj.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null)
        {
            validation.Check(value.ValueKind == JsonValueKind.String && value.GetString()!.Length <= maxLength, field + name, $"Must be text of at most {maxLength} characters.");
        }
    }

    private static string? String(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static int? Integer(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number) ? number : null;
}
