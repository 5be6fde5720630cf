using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Mesh.Client.Tests.Diagnostics;

/// <summary>One measurement a <see cref="MetricRecorder"/> saw.</summary>
public sealed record RecordedMeasurement(string Instrument, double Value, IReadOnlyDictionary<string, object?> Tags)
{
    public string? Tag(string name) => Tags.TryGetValue(name, out var value) ? value?.ToString() : null;
}

/// <summary>
/// Listens to the <c>Mesh.Client</c> meter of one service provider (its <see cref="IMeterFactory"/>), so tests running
/// in parallel, each with its own provider, never see each other's measurements.
/// </summary>
public sealed class MetricRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<RecordedMeasurement> _measurements = new();
    private readonly SemaphoreSlim _recorded = new(0);
    private readonly Lock _observeLock = new();
    private volatile ConcurrentQueue<RecordedMeasurement>? _observed;

    public MetricRecorder(IMeterFactory scope)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, scope) && instrument.Meter.Name == "Mesh.Client")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((i, v, t, _) => Add(i, v, t));
        _listener.SetMeasurementEventCallback<int>((i, v, t, _) => Add(i, v, t));
        _listener.SetMeasurementEventCallback<double>((i, v, t, _) => Add(i, v, t));
        _listener.Start();
    }

    public IReadOnlyList<RecordedMeasurement> All => _measurements.ToArray();

    public IReadOnlyList<RecordedMeasurement> Of(string instrument) => All.Where(m => m.Instrument == instrument).ToArray();

    /// <summary>
    /// Collects the observable instruments now and returns what <paramref name="instrument"/> reported. Observations
    /// are kept apart from <see cref="All"/>, which holds what the synchronous instruments recorded.
    /// </summary>
    public IReadOnlyList<RecordedMeasurement> Observe(string instrument)
    {
        lock (_observeLock)
        {
            var observed = new ConcurrentQueue<RecordedMeasurement>();
            _observed = observed;
            try
            {
                _listener.RecordObservableInstruments();
            }
            finally
            {
                _observed = null;
            }

            return observed.Where(m => m.Instrument == instrument).ToArray();
        }
    }

    private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var copy = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var tag in tags)
        {
            copy[tag.Key] = tag.Value;
        }

        var measurement = new RecordedMeasurement(instrument.Name, value, copy);
        if (instrument.IsObservable)
        {
            _observed?.Enqueue(measurement);
            return;
        }

        _measurements.Enqueue(measurement);
        _recorded.Release();
    }

    /// <summary>
    /// Waits until <paramref name="instrument"/> has recorded measurements matching <paramref name="until"/>, woken by
    /// each new measurement; fails after <paramref name="timeout"/> with what was recorded.
    /// </summary>
    public async Task<IReadOnlyList<RecordedMeasurement>> WaitForAsync(string instrument, Func<IReadOnlyList<RecordedMeasurement>, bool> until,
        TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var current = Of(instrument);
            if (until(current))
            {
                return current;
            }

            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || !await _recorded.WaitAsync(left))
            {
                throw new TimeoutException($"{instrument}: the expected measurements did not arrive within {timeout}; recorded {current.Count}.");
            }
        }
    }

    public void Dispose()
    {
        _listener.Dispose();
        _recorded.Dispose();
    }
}
