using System.Net;
using BenchmarkDotNet.Attributes;
using Mesh.Client.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Client.Benchmarks.Routing;

/// <summary>
/// What MeshHandler itself costs per request, without a network: the inner handler answers at once with a cached
/// response, so the figures are the lookup, pick, URI rewrite, lease and restore alone. The baseline is the same
/// invoker over the inner handler without the mesh.
/// </summary>
[MemoryDiagnoser]
public class MeshHandlerOverheadBenchmarks
{
    private readonly HttpRequestMessage _request = new(HttpMethod.Get, "http://catalog/items/42?view=full");
    private ServiceProvider _services = null!;
    private HttpMessageInvoker _direct = null!;
    private HttpMessageInvoker _mesh = null!;
    private HttpMessageInvoker _directAsync = null!;
    private HttpMessageInvoker _meshAsync = null!;

    [GlobalSetup]
    public void Setup()
    {
        var services = new ServiceCollection();
        services.AddMeshClient().AddStaticEndpoints("catalog", "http://127.0.0.1:5001", "http://127.0.0.1:5002", "http://127.0.0.1:5003");
        services.AddHttpClient("mesh").AddMeshHandler(o => o.Balancer = BalancerNames.RoundRobin);
        _services = services.BuildServiceProvider();
        var registry = _services.GetRequiredService<ServiceRegistry>();
        _direct = new HttpMessageInvoker(new CannedHandler());
        _mesh = new HttpMessageInvoker(new MeshHandler(registry.GetClient("mesh")) { InnerHandler = new CannedHandler() });
        _directAsync = new HttpMessageInvoker(new YieldingHandler());
        _meshAsync = new HttpMessageInvoker(new MeshHandler(registry.GetClient("mesh")) { InnerHandler = new YieldingHandler() });
        _mesh.SendAsync(_request, CancellationToken.None).GetAwaiter().GetResult(); // first resolution
    }

    [GlobalCleanup]
    public void Cleanup() => _services.Dispose();

    [Benchmark(Baseline = true)]
    public Task<HttpResponseMessage> WithoutMesh() => _direct.SendAsync(_request, CancellationToken.None);

    [Benchmark]
    public Task<HttpResponseMessage> ThroughMeshHandler() => _mesh.SendAsync(_request, CancellationToken.None);

    /// <summary>The inner handler answers after a yield, as a socket does: the mesh's async state is really allocated.</summary>
    [Benchmark]
    public Task<HttpResponseMessage> WithoutMeshAsyncInner() => _directAsync.SendAsync(_request, CancellationToken.None);

    /// <summary>As <see cref="WithoutMeshAsyncInner"/>, through the mesh.</summary>
    [Benchmark]
    public Task<HttpResponseMessage> ThroughMeshHandlerAsyncInner() => _meshAsync.SendAsync(_request, CancellationToken.None);

    /// <summary>Answers after <see cref="Task.Yield"/> with one cached response.</summary>
    private sealed class YieldingHandler : HttpMessageHandler
    {
        private readonly HttpResponseMessage _response = new(HttpStatusCode.OK);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            await Task.Yield();
            return _response;
        }
    }

    /// <summary>Answers synchronously with one cached response and a cached task: allocates nothing itself.</summary>
    private sealed class CannedHandler : HttpMessageHandler
    {
        private readonly Task<HttpResponseMessage> _response = Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK));

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) => _response;
    }
}
