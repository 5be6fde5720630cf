using System.Diagnostics.Metrics;
using Mesh.Client.Diagnostics;
using Mesh.Client.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging.Testing;

namespace Mesh.Client.Tests.Infrastructure;

/// <summary>
/// A mesh client built through dependency injection as an application builds it
/// (<c>AddMeshClient().AddStaticEndpoints(...)</c>, <c>AddHttpClient(...).AddMeshHandler(...)</c>), with a scripted
/// in-memory primary handler, a <see cref="TrackingTimeProvider"/> as the <see cref="TimeProvider"/>, fake logging and
/// a collector of the mesh's per-attempt metric.
/// </summary>
public sealed class RequestPathHost : IDisposable
{
    public const string ClientName = "test";
    public const string Service = "catalog";

    /// <summary>Endpoint addresses: loopback with distinct ports; nothing is ever sent to them.</summary>
    public static readonly string[] Addresses = ["http://127.0.0.1:9001", "http://127.0.0.1:9002", "http://127.0.0.1:9003"];

    private RequestPathHost(ServiceProvider provider, ScriptedHandler handler, TrackingTimeProvider clock)
    {
        Provider = provider;
        Handler = handler;
        Clock = clock;
        Client = provider.GetRequiredService<IHttpClientFactory>().CreateClient(ClientName);
        Attempts = new MetricCollector<long>(provider.GetRequiredService<IMeterFactory>(), MeshTelemetry.MeterName, MeshInstruments.Requests);
        Logs = provider.GetFakeLogCollector();
    }

    public ServiceProvider Provider { get; }

    public ScriptedHandler Handler { get; }

    public TrackingTimeProvider Clock { get; }

    public HttpClient Client { get; }

    /// <summary><c>mesh.client.requests</c>: one measurement per attempt, tagged with its outcome.</summary>
    public MetricCollector<long> Attempts { get; }

    public FakeLogCollector Logs { get; }

    public static RequestPathHost Create(Action<MeshServiceOptions>? configure = null, int endpoints = 3, IConfiguration? configuration = null,
        string[]? addresses = null)
    {
        var handler = new ScriptedHandler();
        var clock = new TrackingTimeProvider();
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(clock);
        if (configuration is not null)
        {
            services.AddSingleton(configuration);
        }

        services.AddFakeLogging();
        services.AddMeshClient().AddStaticEndpoints(Service, addresses ?? Addresses.Take(endpoints).ToArray());
        services.AddHttpClient(ClientName, c => c.BaseAddress = new Uri($"http://{Service}"))
            .AddMeshHandler(configure)
            .ConfigurePrimaryHttpMessageHandler(() => handler);
        var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        return new RequestPathHost(provider, handler, clock);
    }

    /// <summary>The service's state (after the first request created it).</summary>
    internal ServiceState State => Provider.GetRequiredService<ServiceRegistry>().GetClient(ClientName).All.Single();

    /// <summary>This client's record of the endpoint at <paramref name="authority"/> (<c>127.0.0.1:9001</c>).</summary>
    internal MeshEndpoint Endpoint(string authority)
    {
        foreach (var endpoint in State.Endpoints.Endpoints)
        {
            if (endpoint.Authority == authority)
            {
                return endpoint;
            }
        }

        throw new InvalidOperationException($"No endpoint {authority}.");
    }

    /// <summary>How many attempts ended with <paramref name="outcome"/> (<c>success</c>, <c>failure_status</c>, <c>connect_failure</c>, <c>timeout</c>, <c>canceled</c>).</summary>
    public long AttemptsWithOutcome(string outcome) =>
        Attempts.GetMeasurementSnapshot().Where(m => Equals(m.Tags[MeshInstruments.OutcomeTag], outcome)).Sum(m => m.Value);

    /// <summary>Sends without waiting, so the test can drive the clock while the request runs.</summary>
    public Task<HttpResponseMessage> Send(HttpMethod method, string path = "/items", HttpContent? content = null, bool? allowRetry = null,
        CancellationToken cancellationToken = default)
    {
        var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative)) { Content = content };
        if (allowRetry is { } allow)
        {
            request.Options.Set(MeshRequestOptions.AllowRetry, allow);
        }

        return Client.SendAsync(request, cancellationToken);
    }

    public Task<HttpResponseMessage> Get(string path = "/items", CancellationToken cancellationToken = default) =>
        Send(HttpMethod.Get, path, cancellationToken: cancellationToken);

    /// <summary>Awaits a request's end for at most 10 s of wall clock (the test's clock drives everything else).</summary>
    public static async Task<T> Within<T>(Task<T> task)
    {
        try
        {
            return await task.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (TimeoutException ex) when (!task.IsCompleted)
        {
            throw new TimeoutException("The request did not end within 10 s of wall clock.", ex);
        }
    }

    public void Dispose()
    {
        Attempts.Dispose();
        Client.Dispose();
        Provider.Dispose();
    }
}
