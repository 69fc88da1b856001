using System.Diagnostics.Metrics;

namespace Booking.Tests.Infrastructure;

/// <summary>The observable gauges of one in-process host (its own meters only), read until they satisfy a condition.</summary>
public static class Gauges
{
    /// <summary>
    /// Reads the gauges named by <paramref name="names"/> every 250 ms and returns their values once
    /// <paramref name="condition"/> holds; fails with <paramref name="describe"/>'s text about the last values when
    /// <paramref name="timeout"/> runs out.
    /// </summary>
    public static async Task<Dictionary<string, double>> WaitForAsync(IMeterFactory host, Func<string, bool> names,
        Func<Dictionary<string, double>, bool> condition, TimeSpan timeout, Func<Dictionary<string, double>, string> describe)
    {
        var values = new Dictionary<string, double>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter.Scope, host) && names(instrument.Name) && instrument is ObservableInstrument<long> or ObservableInstrument<double>)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => values[instrument.Name] = value);
        listener.SetMeasurementEventCallback<double>((instrument, value, _, _) => values[instrument.Name] = value);
        listener.Start();

        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            listener.RecordObservableInstruments();
            if (condition(values))
            {
                return new Dictionary<string, double>(values);
            }

            Assert.True(DateTime.UtcNow < deadline, describe(values));
            await Task.Delay(250);
        }
    }
}
