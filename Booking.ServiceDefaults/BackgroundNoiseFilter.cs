using System.Diagnostics;
using OpenTelemetry;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Keeps background polling out of the traces: a database span that belongs to no request, saga or other span
/// (the outbox relay and the saga sweep poll every few milliseconds) is not recorded, so it is never exported.
/// The same queries inside a booking's trace are kept.
/// </summary>
public sealed class BackgroundNoiseFilter : BaseProcessor<Activity>
{
    public override void OnStart(Activity data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Parent is null && data.ParentSpanId == default && data.Source.Name == "Npgsql")
        {
            data.IsAllDataRequested = false;
            data.ActivityTraceFlags &= ~ActivityTraceFlags.Recorded;
        }
    }
}
