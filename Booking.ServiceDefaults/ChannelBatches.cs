using System.Threading.Channels;

namespace Microsoft.Extensions.Hosting;

/// <summary>The loop of every group commit here: wait for work, take all that is waiting (up to a bound), handle it as one.</summary>
public static class ChannelBatches
{
    /// <summary>
    /// Until <paramref name="reader"/> completes and is drained: waits for an item, then hands what is waiting, at most
    /// <paramref name="maxBatch"/> items, to <paramref name="handle"/> and waits for it before taking more.
    /// </summary>
    public static async Task ForEachBatchAsync<T>(this ChannelReader<T> reader, int maxBatch, Func<List<T>, Task> handle)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(handle);
        var batch = new List<T>(maxBatch);
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (batch.Count < maxBatch && reader.TryRead(out var item))
            {
                batch.Add(item);
            }

            if (batch.Count > 0)
            {
                await handle(batch).ConfigureAwait(false);
                batch.Clear();
            }
        }
    }
}
