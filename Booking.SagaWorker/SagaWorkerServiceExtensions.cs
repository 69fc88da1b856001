using Booking.Core;
using Booking.SagaWorker.Outbox;
using Booking.SagaWorker.Saga;

namespace Booking.SagaWorker;

public static class SagaWorkerServiceExtensions
{
    /// <summary>The outbox relay, the saga orchestrator and what feeds it (Kafka consumer, resume sweep).</summary>
    public static IHostApplicationBuilder AddSagaWorker(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);

        builder.AddBookingCore();
        // Unbounded message timeout: while Kafka is down the relay waits and retries instead of failing rows.
        builder.AddKafkaProducer("kafka", producer => producer.MessageTimeoutMs = 0);

        builder.Services.AddOptions<SagaOptions>().BindConfiguration(SagaOptions.SectionName);
        builder.Services.AddSingleton<SagaTelemetry>();
        builder.Services.AddSingleton<SagaRunner>();
        builder.Services.AddScoped<SagaOrchestrator>();
        builder.Services.AddHttpClient<PerformanceAllocationClient>(http => http.BaseAddress = new Uri("http://performance-stub"));

        builder.Services.AddHostedService<OutboxRelay>();
        builder.Services.AddHostedService<RequestedEventConsumer>();
        builder.Services.AddHostedService<SagaSweeper>();
        return builder;
    }
}
