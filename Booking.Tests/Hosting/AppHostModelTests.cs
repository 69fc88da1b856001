using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Booking.AppHost.Hosting;

namespace Booking.Tests.Hosting;

/// <summary>The AppHost's resource graph in each mode, read from the model without starting anything.</summary>
public sealed class AppHostModelTests
{
    private static readonly string[] Services = ["performance-stub", "booking-api", "saga-worker"];

    [Fact]
    public async Task Without_a_container_runtime_redis_and_postgres_are_executables_with_passwords_and_health_checks()
    {
        var resources = await ModelAsync("--AppHost:DataStores=Executable");

        var redis = Assert.IsType<RedisExecutableResource>(resources["redis"]);
        var postgres = Assert.IsType<PostgresExecutableResource>(resources["postgres"]);
        Assert.True(redis.PasswordParameter.Secret);
        Assert.True(postgres.PasswordParameter.Secret);
        Assert.Equal(["bookingdb", "performancedb"], postgres.Databases.Select(d => d.Name));
        Assert.All(postgres.Databases, d => Assert.Same(postgres, d.Parent));
        Assert.IsType<KafkaMockResource>(resources["kafka"]);
        Assert.All(new IResource[] { redis, postgres, postgres.Databases[0], resources["kafka"] }, r => Assert.NotEmpty(r.Annotations.OfType<HealthCheckAnnotation>()));
        AssertServicesWired(resources);
    }

    [Fact]
    public async Task With_a_container_runtime_redis_and_postgres_are_aspires_own_containers_with_data_volumes()
    {
        var resources = await ModelAsync("--AppHost:DataStores=Container");

        var redis = Assert.IsType<RedisResource>(resources["redis"]);
        var postgres = Assert.IsType<PostgresServerResource>(resources["postgres"]);
        Assert.Contains(redis.Annotations.OfType<ContainerMountAnnotation>(), m => m.Type == ContainerMountType.Volume);
        Assert.Contains(postgres.Annotations.OfType<ContainerMountAnnotation>(), m => m.Type == ContainerMountType.Volume);
        Assert.Equal(postgres, Assert.IsType<PostgresDatabaseResource>(resources["bookingdb"]).Parent);
        Assert.Equal(postgres, Assert.IsType<PostgresDatabaseResource>(resources["performancedb"]).Parent);
        AssertServicesWired(resources);
    }

    [Fact]
    public async Task A_kafka_connection_string_in_configuration_replaces_the_mock_cluster()
    {
        var resources = await ModelAsync("--AppHost:DataStores=Executable", "--ConnectionStrings:kafka=broker.example:9092");

        Assert.IsAssignableFrom<IResourceWithConnectionString>(resources["kafka"]);
        Assert.DoesNotContain(resources.Values, r => r is KafkaMockResource);
    }

    [Theory]
    [InlineData("Executable")]
    [InlineData("Container")]
    public async Task Either_database_alone_can_be_an_external_one_and_the_other_stays_on_the_servers(string dataStores)
    {
        foreach (var (external, own) in new[] { ("bookingdb", "performancedb"), ("performancedb", "bookingdb") })
        {
            var resources = await ModelAsync($"--AppHost:DataStores={dataStores}", $"--ConnectionStrings:{external}=Host=db.example;Database={external}");

            Assert.False(resources[external] is IResourceWithParent, $"{external} is a database of the embedded server");
            Assert.IsAssignableFrom<IResourceWithParent>(resources[own]);
            Assert.Contains("postgres", resources.Keys);
            AssertServicesWired(resources);
        }
    }

    [Fact]
    public async Task Services_listen_on_the_documented_ports_directly_not_through_a_proxy()
    {
        var resources = await ModelAsync("--AppHost:DataStores=Executable");

        var ports = Services.ToDictionary(s => s, s => resources[s].Annotations.OfType<EndpointAnnotation>().Single(e => e.Name == "http"));
        Assert.Equal((5090, false), (ports["performance-stub"].Port, ports["performance-stub"].IsProxied));
        Assert.Equal((5080, false), (ports["booking-api"].Port, ports["booking-api"].IsProxied));
        Assert.Equal((5100, false), (ports["saga-worker"].Port, ports["saga-worker"].IsProxied));
    }

    [Fact]
    public async Task Fresh_deletes_the_stores_data_and_the_secrets_before_start_and_nothing_else_in_the_data_directory()
    {
        var ct = TestContext.Current.CancellationToken;
        var data = Path.Combine(Path.GetTempPath(), "booking-tests", "fresh-" + Guid.NewGuid().ToString("N"));
        string[] kept = ["redis", "postgres", "secrets"];
        foreach (var folder in kept)
        {
            Directory.CreateDirectory(Path.Combine(data, folder));
            await File.WriteAllTextAsync(Path.Combine(data, folder, "old"), "old", ct);
        }

        var mine = Path.Combine(data, "notes.txt");
        await File.WriteAllTextAsync(mine, "mine", ct);
        try
        {
            await using (await DistributedApplicationTestingBuilder.CreateAsync<Projects.Booking_AppHost>([$"--AppHost:DataDirectory={data}", "--AppHost:DataStores=Executable"], ct))
            {
                Assert.All(kept, folder => Assert.True(File.Exists(Path.Combine(data, folder, "old")), $"{folder} was deleted without --fresh"));
            }

            await using (await DistributedApplicationTestingBuilder.CreateAsync<Projects.Booking_AppHost>([$"--AppHost:DataDirectory={data}", "--AppHost:DataStores=Executable", "--AppHost:Fresh=true"], ct))
            {
                Assert.All(kept, folder => Assert.False(File.Exists(Path.Combine(data, folder, "old")), $"{folder} was kept with --fresh"));
                Assert.Equal("mine", await File.ReadAllTextAsync(mine, ct));
            }
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    private static void AssertServicesWired(IReadOnlyDictionary<string, IResource> resources)
    {
        static HashSet<string> Waits(IResource r) => r.Annotations.OfType<WaitAnnotation>().Select(w => w.Resource.Name).ToHashSet();
        Assert.Superset(new HashSet<string> { "performancedb", "redis" }, Waits(resources["performance-stub"]));
        Assert.Superset(new HashSet<string> { "redis", "bookingdb", "performance-stub" }, Waits(resources["booking-api"]));
        Assert.Superset(new HashSet<string> { "kafka", "booking-api" }, Waits(resources["saga-worker"]));
        Assert.All(Services, s => Assert.Contains(resources[s].Annotations.OfType<HealthCheckAnnotation>(), h => h.Key.Contains("http", StringComparison.OrdinalIgnoreCase)));
    }

    private static async Task<IReadOnlyDictionary<string, IResource>> ModelAsync(params string[] args)
    {
        var ct = TestContext.Current.CancellationToken;
        // Deleted afterwards: the AppHost takes its lock there even when nothing starts.
        using var data = new TestDirectory("model");
        await using var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.Booking_AppHost>([$"--AppHost:DataDirectory={data.Path}", .. args], ct);
        return builder.Resources.ToDictionary(r => r.Name);
    }
}
