using System.Reflection;
using System.Runtime.ExceptionServices;
using StackExchange.Redis;

namespace Booking.Tests.Infrastructure;

/// <summary>The booking API with a Redis connection that can lose the answer to a script call.</summary>
public sealed class LostRepliesApp(Dependencies dependencies) : BookingApp(dependencies)
{
    public LostRedisReplies Replies { get; } = new();

    protected override void ConfigureApiServices(IServiceCollection services) => Replies.Install(services);
}

/// <summary>
/// Loses Redis's answer to one script call of a service: the script runs in Redis, and its caller gets a timeout, as
/// when the reply is cut off on the way back. <see cref="Install"/> wraps the service's Redis connection.
/// </summary>
public sealed class LostRedisReplies
{
    private byte[]? _armed;

    /// <summary>Loses the answer to the next call of the script with this SHA-1, once.</summary>
    public void LoseNext(byte[] scriptSha1) => Volatile.Write(ref _armed, scriptSha1);

    /// <summary>Puts a wrapper around the Redis connection <paramref name="services"/> registered.</summary>
    public void Install(IServiceCollection services)
    {
        var registered = services.Last(d => d.ServiceType == typeof(IConnectionMultiplexer) && !d.IsKeyedService);
        services.AddSingleton(provider =>
        {
            var inner = registered.ImplementationInstance ?? registered.ImplementationFactory!(provider);
            return Forwarder.Wrap((IConnectionMultiplexer)inner, this);
        });
    }

    private bool TakeArmed(byte[] sha1)
    {
        var armed = Volatile.Read(ref _armed);
        return armed is not null && armed.AsSpan().SequenceEqual(sha1) && Interlocked.CompareExchange(ref _armed, null, armed) == armed;
    }

    /// <summary>Forwards every call to the real connection or database, and loses the armed script's answer.</summary>
    public class Forwarder : DispatchProxy
    {
        private object _inner = null!;
        private LostRedisReplies _replies = null!;

        internal static T Wrap<T>(T inner, LostRedisReplies replies) where T : class
        {
            var proxy = Create<T, Forwarder>();
            var forwarder = (Forwarder)(object)proxy;
            (forwarder._inner, forwarder._replies) = (inner, replies);
            return proxy;
        }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            object? result;
            try
            {
                result = targetMethod!.Invoke(_inner, args);
            }
            catch (TargetInvocationException exception) when (exception.InnerException is not null)
            {
                ExceptionDispatchInfo.Throw(exception.InnerException);
                throw;
            }

            return result switch
            {
                IDatabase database when targetMethod.Name == nameof(IConnectionMultiplexer.GetDatabase) => Wrap(database, _replies),
                Task<RedisResult> reply when targetMethod.Name == nameof(IDatabase.ScriptEvaluateAsync) && args![0] is byte[] sha1 && _replies.TakeArmed(sha1) => LoseAsync(reply),
                _ => result,
            };
        }

        private static async Task<RedisResult> LoseAsync(Task<RedisResult> reply)
        {
            await reply;
            throw new RedisTimeoutException("Timeout awaiting response (the test lost it)", CommandStatus.Sent);
        }
    }
}
