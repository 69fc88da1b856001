using Booking.Core;
using Booking.SagaWorker.Outbox;
using Booking.SagaWorker.Reconciliation;
using Booking.SagaWorker.Saga;
using Booking.SagaWorker.Telemetry;
using Confluent.Kafka;
using Microsoft.Extensions.Http.Resilience;

namespace Booking.SagaWorker;

public static class SagaWorkerServiceExtensions
{
    /// <summary>The outbox relay, the saga orchestrator and what feeds it (Kafka consumer, resume sweep).</summary>
    public static IHostApplicationBuilder AddSagaWorker(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);

        builder.AddBookingCore();
        var deliveryTimeout = builder.Configuration.GetValue(OutboxRelay.DeliveryTimeoutSetting, OutboxRelay.DefaultDeliveryTimeout);
        // librdkafka reads 0 as "no timeout", which would let one dead partition hold every round again.
        if (deliveryTimeout < TimeSpan.FromSeconds(1) || deliveryTimeout > TimeSpan.FromHours(1))
        {
            throw new InvalidOperationException($"{OutboxRelay.DeliveryTimeoutSetting} must be from 00:00:01 to 01:00:00; it is {deliveryTimeout}.");
        }

        builder.AddKafkaProducer("kafka", producer => producer.MessageTimeoutMs = (int)deliveryTimeout.TotalMilliseconds);

        builder.Services.AddOptions<SagaOptions>().BindConfiguration(SagaOptions.SectionName);
        // Incremental rebalances: a worker that joins or leaves moves only the partitions it takes or gives, so the
        // others' sagas in flight keep their partitions (eager assignment revoked every partition of every worker).
        // Every member of a group must use the same kind: switching a running group means stopping all its workers.
        builder.AddKafkaConsumer("kafka", builder.Configuration[$"{SagaOptions.SectionName}:{nameof(SagaOptions.ConsumerGroup)}"] ?? SagaOptions.DefaultConsumerGroup,
            config => config.PartitionAssignmentStrategy ??= PartitionAssignmentStrategy.CooperativeSticky);
        builder.Services.AddSingleton<SagaTelemetry>();
        builder.Services.AddSingleton<SagaDeferrals>();
        builder.Services.AddSingleton<SagaRunner>();
        builder.Services.AddSingleton<AllocationBatcher>();
        builder.Services.AddScoped<SagaOrchestrator>();
        builder.AddBookingAuthentication();
        // The saga is the retry mechanism for allocations (with backoff and a deadline); one quick HTTP retry is enough
        // here. The handler the service defaults give every client is pipeline "-standard" whatever the client, so
        // options named after this client would not reach it: this client replaces it with a handler of its own.
#pragma warning disable EXTEXP0001 // RemoveAllResilienceHandlers is marked experimental; it is the documented way to replace the defaults' handler.
        builder.Services.AddHttpClient<PerformanceAllocationClient>(http => http.BaseAddress = new Uri("http://performance-stub"))
            .AddHttpMessageHandler<ServiceTokenHandler>()
            .RemoveAllResilienceHandlers()
            .AddStandardResilienceHandler(options =>
            {
                options.Retry.MaxRetryAttempts = 1;
                options.Retry.Delay = TimeSpan.FromMilliseconds(100);
                options.AttemptTimeout.Timeout = TimeSpan.FromSeconds(5);
                options.TotalRequestTimeout.Timeout = TimeSpan.FromSeconds(12);
                options.CircuitBreaker.SamplingDuration = TimeSpan.FromSeconds(10);
            });
#pragma warning restore EXTEXP0001

        builder.Services.AddSingleton<RelayLeadership>();
        builder.Services.AddHostedService<OutboxRelay>();
        builder.Services.AddSingleton<OutboxPurge>();
        builder.Services.AddHostedService(services => services.GetRequiredService<OutboxPurge>());
        builder.Services.AddHostedService<RequestedEventConsumer>();
        builder.Services.AddHostedService<SagaSweeper>();
        builder.Services.AddHostedService<BacklogGauges>();
        builder.Services.AddOptions<ReconcilerOptions>().BindConfiguration(ReconcilerOptions.SectionName);
        builder.Services.AddSingleton<HoldReconciler>();
        builder.Services.AddHostedService(services => services.GetRequiredService<HoldReconciler>());
        return builder;
    }
}
