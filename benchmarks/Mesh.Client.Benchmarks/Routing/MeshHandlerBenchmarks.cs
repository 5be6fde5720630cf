using System.Net;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Benchmarks.Routing;

/// <summary>
/// End to end through IHttpClientFactory against one Kestrel backend on 127.0.0.1, in the same run: the same client
/// pipeline with a fixed endpoint URI (the baseline) and through MeshHandler (round robin over that one endpoint).
/// The difference is what the mesh costs a request: time and allocations.
/// </summary>
[MemoryDiagnoser]
public class MeshHandlerBenchmarks
{
    private WebApplication _backend = null!;
    private ServiceProvider _services = null!;
    private HttpClient _direct = null!;
    private HttpClient _mesh = null!;
    private readonly Uri _path = new("/ping", UriKind.Relative);

    [Params(1, 32)]
    public int Concurrency { get; set; }

    [GlobalSetup]
    public async Task SetupAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        _backend = builder.Build();
        _backend.Run(context => context.Response.WriteAsync("pong"));
        await _backend.StartAsync();
        string address = _backend.Urls.First();

        var services = new ServiceCollection();
        services.AddMeshClient().AddStaticEndpoints("catalog", address);
        services.AddHttpClient("direct", c => c.BaseAddress = new Uri(address));
        services.AddHttpClient("mesh", c => c.BaseAddress = new Uri("http://catalog"))
            .AddMeshHandler(o => o.Balancer = BalancerNames.RoundRobin);
        _services = services.BuildServiceProvider();
        var factory = _services.GetRequiredService<IHttpClientFactory>();
        _direct = factory.CreateClient("direct");
        _mesh = factory.CreateClient("mesh");
        await _mesh.GetStringAsync(_path); // first resolution and connection set-up outside the measurement
        await _direct.GetStringAsync(_path);
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _services.DisposeAsync();
        await _backend.StopAsync();
        await _backend.DisposeAsync();
    }

    [Benchmark(Baseline = true)]
    public Task FixedEndpoint() => SendAsync(_direct);

    [Benchmark]
    public Task ThroughMesh() => SendAsync(_mesh);

    private async Task SendAsync(HttpClient client)
    {
        if (Concurrency == 1)
        {
            using var response = await client.GetAsync(_path);
            await response.Content.ReadAsByteArrayAsync();
            return;
        }

        var tasks = new Task[Concurrency];
        for (int i = 0; i < tasks.Length; i++)
        {
            tasks[i] = OneAsync(client);
        }

        await Task.WhenAll(tasks);
    }

    private async Task OneAsync(HttpClient client)
    {
        using var response = await client.GetAsync(_path);
        await response.Content.ReadAsByteArrayAsync();
    }
}
