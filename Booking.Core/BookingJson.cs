using System.Text.Json;
using System.Text.Json.Serialization;

namespace Booking.Core;

/// <summary>The contract's JSON shape: camelCase names, enums as UPPER_SNAKE strings, ISO-8601 timestamps.</summary>
public static class BookingJson
{
    public static readonly JsonSerializerOptions Options = Configure(new JsonSerializerOptions(JsonSerializerDefaults.Web));

    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseUpper, allowIntegerValues: false));
        options.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
        return options;
    }
}
