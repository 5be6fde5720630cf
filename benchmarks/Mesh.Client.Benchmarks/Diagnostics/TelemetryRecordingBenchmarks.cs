using System.Diagnostics.Metrics;
using BenchmarkDotNet.Attributes;
using Mesh.Client.Diagnostics;
using Mesh.Client.Discovery;
using Mesh.Client.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Mesh.Client.Benchmarks.Diagnostics;

/// <summary>
/// What the request path adds for telemetry, in isolation: the two calls <c>MeshHandler</c> makes per attempt
/// (<see cref="ServiceTelemetry.OnAttemptStarting"/>, <see cref="ServiceTelemetry.OnAttemptCompleted"/>), without the
/// rest of the handler, so the few nanoseconds are not lost in the handler's noise.
/// </summary>
[MemoryDiagnoser]
public class TelemetryRecordingBenchmarks
{
    private readonly MeshEndpoint _endpoint = new("http", "10.0.0.1", 8080);
    private readonly TimeSpan _elapsed = TimeSpan.FromMilliseconds(3);
    private ServiceProvider _quiet = null!, _listenedProvider = null!;
    private ServiceTelemetry _off = null!, _on = null!, _listened = null!;
    private MeterListener _listener = null!;
    private double _sink;

    [GlobalSetup]
    public void Setup()
    {
        _quiet = new ServiceCollection().AddMetrics().BuildServiceProvider();
        _listenedProvider = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var options = new StaticOptionsMonitor(new MeshClientOptions());
        var on = new MeshMetrics(_quiet.GetRequiredService<IMeterFactory>(), options);
        var listenedFactory = _listenedProvider.GetRequiredService<IMeterFactory>();
        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (ReferenceEquals(instrument.Meter.Scope, listenedFactory))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _listener.SetMeasurementEventCallback<long>((_, value, _, _) => _sink += value);
        _listener.SetMeasurementEventCallback<double>((_, value, _, _) => _sink += value);
        _listener.Start();
        var listened = new MeshMetrics(listenedFactory, options);

        _off = new ServiceTelemetry("bench", "catalog", NullLogger.Instance, metrics: null);
        _on = new ServiceTelemetry("bench", "catalog", NullLogger.Instance, on);
        _listened = new ServiceTelemetry("bench", "catalog", NullLogger.Instance, listened);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _listener.Dispose();
        _quiet.Dispose();
        _listenedProvider.Dispose();
    }

    [Benchmark(Baseline = true)]
    public void MetricsOff()
    {
        _off.OnAttemptStarting(_endpoint, 1);
        _off.OnAttemptCompleted(_endpoint, AttemptOutcome.Success, _elapsed);
    }

    [Benchmark]
    public void MetricsOnNoListener()
    {
        _on.OnAttemptStarting(_endpoint, 1);
        _on.OnAttemptCompleted(_endpoint, AttemptOutcome.Success, _elapsed);
    }

    [Benchmark]
    public void MetricsOnWithListener()
    {
        _listened.OnAttemptStarting(_endpoint, 1);
        _listened.OnAttemptCompleted(_endpoint, AttemptOutcome.Success, _elapsed);
    }

    private sealed class StaticOptionsMonitor(MeshClientOptions value) : IOptionsMonitor<MeshClientOptions>
    {
        public MeshClientOptions CurrentValue => value;

        public MeshClientOptions Get(string? name) => value;

        public IDisposable? OnChange(Action<MeshClientOptions, string?> listener) => null;
    }
}
