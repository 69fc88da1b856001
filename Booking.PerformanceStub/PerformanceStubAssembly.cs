namespace Booking.PerformanceStub;

/// <summary>Names this assembly for hosts that start it in-process (WebApplicationFactory in the tests).</summary>
public sealed class PerformanceStubAssembly;
