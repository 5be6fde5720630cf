using System.Diagnostics.Metrics;
using Mesh.Client.Balancing;
using Mesh.Client.Routing;
using Mesh.Client.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Tests.Diagnostics;

/// <summary>
/// A service provider with the mesh, one named client, a <see cref="MetricRecorder"/> on its meter factory and a
/// <see cref="LogRecorder"/> for its logs.
/// </summary>
public sealed class TelemetryTestHost : IDisposable
{
    private TelemetryTestHost(ServiceProvider provider, LogRecorder logs)
    {
        Provider = provider;
        Logs = logs;
        Metrics = new MetricRecorder(provider.GetRequiredService<IMeterFactory>());
    }

    public ServiceProvider Provider { get; }

    public MetricRecorder Metrics { get; }

    public LogRecorder Logs { get; }

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

        var logs = new LogRecorder();
        services.AddLogging(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Trace));
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
        return new TelemetryTestHost(provider, logs);
    }

    /// <summary>The state of <paramref name="service"/> as the test client uses it (after a first request created it).</summary>
    internal ServiceState Service(string service = "catalog") =>
        Provider.GetRequiredService<ServiceRegistry>().All.Single(s => s.ServiceName == service);

    public void Dispose()
    {
        Metrics.Dispose();
        Provider.Dispose();
    }
}
