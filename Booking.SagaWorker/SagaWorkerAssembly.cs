namespace Booking.SagaWorker;

/// <summary>Names this assembly for hosts that start it in-process (WebApplicationFactory in the tests).</summary>
public sealed class SagaWorkerAssembly;
