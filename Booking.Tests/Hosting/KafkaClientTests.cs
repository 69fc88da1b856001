using Confluent.Kafka;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

namespace Booking.Tests.Hosting;

public sealed class KafkaClientTests
{
    [Fact]
    public void Clients_take_the_broker_from_the_connection_string_and_any_librdkafka_setting_from_their_sections()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:kafka"] = "127.0.0.1:9092",
            [$"{KafkaClientExtensions.ConsumerSection}:SessionTimeoutMs"] = "12000",
            [$"{KafkaClientExtensions.ProducerSection}:LingerMs"] = "7",
        });

        builder.AddKafkaConsumer("kafka", "group-a", config => config.FetchMinBytes = 3);
        builder.AddKafkaProducer("kafka");
        using var host = builder.Build();

        var consumer = host.Services.GetRequiredService<KafkaConsumerFactory>().Config;
        Assert.Equal(("127.0.0.1:9092", "group-a", 12000, 3, false), (consumer.BootstrapServers, consumer.GroupId, consumer.SessionTimeoutMs, consumer.FetchMinBytes, consumer.EnableAutoCommit));
        Assert.Equal((7.0, true), (host.Services.GetRequiredService<KafkaProducerFactory>().Config.LingerMs, host.Services.GetRequiredService<KafkaProducerFactory>().Config.EnableIdempotence));
    }

    [Theory]
    [InlineData(KafkaClientExtensions.ProducerSection, "EnableIdempotence", "false")]
    [InlineData(KafkaClientExtensions.ProducerSection, "Acks", "Leader")]
    [InlineData(KafkaClientExtensions.ConsumerSection, "EnableAutoCommit", "true")]
    public void A_setting_that_would_lose_or_repeat_events_stops_the_start(string section, string setting, string value)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:kafka"] = "127.0.0.1:9092",
            [$"{section}:{setting}"] = value,
        });

        var error = Assert.Throws<InvalidOperationException>(() =>
        {
            builder.AddKafkaConsumer("kafka", "group-a");
            builder.AddKafkaProducer("kafka");
        });
        Assert.Contains(setting, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_connection_string_is_a_clear_start_up_error()
    {
        var builder = Host.CreateApplicationBuilder();

        var error = Assert.Throws<InvalidOperationException>(() => builder.AddKafkaConsumer("kafka", "group-a"));
        Assert.Contains("ConnectionStrings:kafka", error.Message, StringComparison.Ordinal);
    }
}
