namespace Microsoft.Extensions.Hosting;

/// <summary>Names of the Booking platform's own activity sources and meter, shared by producers and the exporter set-up.</summary>
public static class BookingTelemetry
{
    public const string LuaSourceName = "Booking.Lua";
    public const string SagaSourceName = "Booking.Saga";
    public const string MeterName = "Booking";
}
