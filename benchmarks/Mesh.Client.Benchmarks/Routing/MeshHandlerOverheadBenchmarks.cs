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
    private HttpMessageInvoker _directBody = null!;
    private HttpMessageInvoker _meshBody = null!;

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
        _directBody = new HttpMessageInvoker(new BodyHandler());
        _meshBody = new HttpMessageInvoker(new MeshHandler(registry.GetClient("mesh")) { InnerHandler = new BodyHandler() });
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
    /// <summary>A fresh response with a body, read to its end: what a real request costs, body tracking included.</summary>
    [Benchmark]
    public async Task<int> WithoutMeshBody()
    {
        using var response = await _directBody.SendAsync(_request, CancellationToken.None);
        return (await response.Content.ReadAsByteArrayAsync()).Length;
    }

    [Benchmark]
    public async Task<int> ThroughMeshHandlerBody()
    {
        using var response = await _meshBody.SendAsync(_request, CancellationToken.None);
        return (await response.Content.ReadAsByteArrayAsync()).Length;
    }

    private sealed class BodyHandler : HttpMessageHandler
    {
        private static readonly byte[] s_body = new byte[128];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            await Task.Yield();
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = new ReadOnlyMemoryContent(s_body), RequestMessage = request };
        }
    }

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
