using System.Diagnostics.Metrics;
using BenchmarkDotNet.Attributes;
using Mesh.Client.Diagnostics;
using Mesh.Client.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Mesh.Client.Benchmarks.Diagnostics;

/// <summary>
/// The cost of telemetry on the request path: the mesh handler (service lookup, pick, URI rewrite, lease, accounting)
/// over an inner handler that answers at once, so the handler's own work is what is measured.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><c>MetricsOff</c>: no meter at all (the registry gets no <see cref="MeshMetrics"/>); the baseline.</item>
/// <item><c>MetricsOnNoListener</c>: the meter exists, as in every application, but nothing listens.</item>
/// <item><c>MetricsOnWithListener</c>: a <see cref="MeterListener"/> takes every measurement (counter and histogram,
/// four tags each), as an OpenTelemetry SDK would, but with a callback that only adds.</item>
/// </list>
/// No activity is current in any case; the tracing guard (one <c>Activity.Current</c> read) runs in all three.
/// </remarks>
[MemoryDiagnoser]
public class TelemetryOverheadBenchmarks
{
    private readonly Uri _uri = new("http://catalog/items?id=42");
    private ServiceProvider _off = null!, _on = null!, _listened = null!;
    private HttpMessageInvoker _offInvoker = null!, _onInvoker = null!, _listenedInvoker = null!;
    private HttpRequestMessage _request = null!;
    private MeterListener _listener = null!;
    private double _sink;

    [GlobalSetup]
    public void Setup()
    {
        _off = Build(metrics: false);
        _on = Build(metrics: true);
        _listened = Build(metrics: true);
        _offInvoker = Invoker(_off);
        _onInvoker = Invoker(_on);
        _listenedInvoker = Invoker(_listened);

        var scope = _listened.GetRequiredService<IMeterFactory>();
        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (ReferenceEquals(instrument.Meter.Scope, scope))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _listener.SetMeasurementEventCallback<long>((_, value, _, _) => _sink += value);
        _listener.SetMeasurementEventCallback<double>((_, value, _, _) => _sink += value);
        _listener.Start();

        _request = new HttpRequestMessage(HttpMethod.Get, _uri);
        // First requests create each service and wait for its first resolution; keep that out of the measurement.
        MetricsOff();
        MetricsOnNoListener();
        MetricsOnWithListener();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _listener.Dispose();
        _request.Dispose();
        _offInvoker.Dispose();
        _onInvoker.Dispose();
        _listenedInvoker.Dispose();
        _off.Dispose();
        _on.Dispose();
        _listened.Dispose();
    }

    [Benchmark(Baseline = true)]
    public HttpResponseMessage MetricsOff() => _offInvoker.SendAsync(_request, CancellationToken.None).GetAwaiter().GetResult();

    [Benchmark]
    public HttpResponseMessage MetricsOnNoListener() => _onInvoker.SendAsync(_request, CancellationToken.None).GetAwaiter().GetResult();

    [Benchmark]
    public HttpResponseMessage MetricsOnWithListener() => _listenedInvoker.SendAsync(_request, CancellationToken.None).GetAwaiter().GetResult();

    private static ServiceProvider Build(bool metrics)
    {
        var services = new ServiceCollection();
        services.AddMeshClient().AddStaticEndpoints("catalog", "http://10.0.0.1:8080", "http://10.0.0.2:8080", "http://10.0.0.3:8080");
        services.AddHttpClient("bench").AddMeshHandler(o => o.Balancer = BalancerNames.RoundRobin);
        if (!metrics)
        {
            services.RemoveAll<MeshMetrics>();
        }

        return services.BuildServiceProvider();
    }

    private static HttpMessageInvoker Invoker(ServiceProvider provider)
    {
        var registry = provider.GetRequiredService<ServiceRegistry>();
        var handler = new MeshHandler(registry.GetClient("bench")) { InnerHandler = new AnswerAtOnceHandler() };
        return new HttpMessageInvoker(handler);
    }

    /// <summary>Answers every request with the same 200, synchronously: no network, no allocation.</summary>
    private sealed class AnswerAtOnceHandler : HttpMessageHandler
    {
        private readonly Task<HttpResponseMessage> _response = Task.FromResult(new HttpResponseMessage(System.Net.HttpStatusCode.OK));

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) => _response;
    }
}
