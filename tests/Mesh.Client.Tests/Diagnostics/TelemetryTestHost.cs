using System.Diagnostics.Metrics;
using Mesh.Client.Balancing;
using Mesh.Client.Diagnostics;
using Mesh.Client.Routing;
using Mesh.Client.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace Mesh.Client.Tests.Diagnostics;

/// <summary>
/// A service provider with the mesh, one named client, <see cref="MetricCollector{T}"/>s on its meter factory
/// (<see cref="Collect{T}"/>) and a <see cref="FakeLogCollector"/> for its logs.
/// </summary>
public sealed class TelemetryTestHost : IDisposable
{
    private TelemetryTestHost(ServiceProvider provider)
    {
        Provider = provider;
        Logs = provider.GetFakeLogCollector();
    }

    public ServiceProvider Provider { get; }

    public FakeLogCollector Logs { get; }

    public HttpClient Client => Provider.Client();

    public static TelemetryTestHost Start(Action<IMeshClientBuilder>? mesh = null, IConfiguration? configuration = null,
        Action<MeshClientOptions>? clientOptions = null, Action<MeshServiceOptions>? handler = null, string baseAddress = "http://catalog",
        TimeProvider? timeProvider = null)
    {
        var services = new ServiceCollection();
        if (timeProvider is not null)
        {
            services.AddSingleton(timeProvider);
        }

        services.AddLogging(b => b.AddFakeLogging().SetMinimumLevel(LogLevel.Trace));
        if (configuration is not null)
        {
            services.AddSingleton(configuration);
        }

        var builder = services.AddMeshClient(clientOptions);
        mesh?.Invoke(builder);
        // Round robin, so tests know where requests go (which endpoint fails first, how many each gets).
        services.AddHttpClient(MeshTestHost.ClientName, c => c.BaseAddress = new Uri(baseAddress)).AddMeshHandler(o =>
        {
            o.Balancer = BalancerNames.RoundRobin;
            handler?.Invoke(o);
        });
        var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        return new TelemetryTestHost(provider);
    }

    /// <summary>
    /// Collects what <paramref name="instrument"/> of this provider's <c>Mesh.Client</c> meter records (scoped to its
    /// <see cref="IMeterFactory"/>, so tests running in parallel, each with its own provider, never see each other's
    /// measurements). Create it before the requests it should see; dispose it with the test.
    /// </summary>
    public MetricCollector<T> Collect<T>(string instrument)
        where T : struct =>
        new(Provider.GetRequiredService<IMeterFactory>(), MeshTelemetry.MeterName, instrument);

    /// <summary>The mesh's log records with <paramref name="eventId"/> (ids are per category: HttpClient's own logs reuse small numbers).</summary>
    public IReadOnlyList<FakeLogRecord> MeshLogs(int eventId) =>
        MeshLogs().Where(r => r.Id.Id == eventId).ToArray();

    /// <summary>The log records of the mesh's own categories (<c>Mesh.Client.*</c>).</summary>
    public IEnumerable<FakeLogRecord> MeshLogs() =>
        Logs.GetSnapshot().Where(r => r.Category?.StartsWith("Mesh.Client", StringComparison.Ordinal) == true);

    /// <summary>The state of <paramref name="service"/> as the test client uses it (after a first request created it).</summary>
    internal ServiceState Service(string service = "catalog") =>
        Provider.GetRequiredService<ServiceRegistry>().All.Single(s => s.ServiceName == service);

    public void Dispose() => Provider.Dispose();
}

/// <summary>Reading <see cref="MetricCollector{T}"/> measurements the way the metrics tests assert on them.</summary>
public static class CollectedMeasurements
{
    /// <summary>The value of tag <paramref name="name"/> as a string, or null when the measurement does not carry it.</summary>
    public static string? Tag<T>(this CollectedMeasurement<T> measurement, string name)
        where T : struct =>
        measurement.Tags.TryGetValue(name, out var value) ? value?.ToString() : null;

    /// <summary>
    /// Collects the observable instrument now and returns only this observation (earlier ones are cleared), as an
    /// exporter's collection would see it.
    /// </summary>
    public static IReadOnlyList<CollectedMeasurement<T>> Observe<T>(this MetricCollector<T> collector)
        where T : struct
    {
        collector.Clear();
        collector.RecordObservableInstruments();
        return collector.GetMeasurementSnapshot(clear: true);
    }
}
