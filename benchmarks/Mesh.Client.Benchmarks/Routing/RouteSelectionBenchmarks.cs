using BenchmarkDotNet.Attributes;
using Mesh.Client.Routing;
using Mesh.Client.Routing.Routes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Client.Benchmarks.Routing;

/// <summary>
/// Step 3 of the request path, route selection, on a real registry (static endpoints, two backend services per route):
/// the no-route path (a service without routes: one null check) against matching among 1, 10 and 100 rules plus the
/// weighted backend pick. The request matches the last rule in precedence order, so every rule is tried (the worst
/// case). <see cref="Kind"/>: path prefix and header (no regular expression), or a regular expression path.
/// </summary>
[MemoryDiagnoser]
public class RouteSelectionBenchmarks
{
    private ServiceProvider _services = null!;
    private ClientServices _client = null!;
    private ServiceState _routed = null!;
    private ServiceState _plain = null!;
    private HttpRequestMessage _request = null!;

    [Params(1, 10, 100)]
    public int Rules { get; set; }

    [Params("PathHeader", "Regex")]
    public string Kind { get; set; } = "PathHeader";

    [GlobalSetup]
    public void Setup()
    {
        // Routes in configuration, for catalog only (an AddMeshHandler delegate would give every service of the client the routes).
        var settings = new Dictionary<string, string?>();
        for (int i = 0; i < Rules; i++)
        {
            string route = $"Mesh:Services:catalog:Routes:{i}:";
            settings[route + "Name"] = $"r{i:D3}";
            if (Kind == "Regex")
            {
                settings[route + "Matches:0:Path:Type"] = "RegularExpression";
                settings[route + "Matches:0:Path:Value"] = $"/api/r{i:D3}/[a-z]+";
            }
            else
            {
                settings[route + "Matches:0:Path:Value"] = $"/api/r{i:D3}";
                settings[route + "Matches:0:Headers:0:Name"] = "x-canary";
                settings[route + "Matches:0:Headers:0:Value"] = "1";
            }

            settings[route + "Backends:0:Service"] = "catalog-v1";
            settings[route + "Backends:0:Weight"] = "90";
            settings[route + "Backends:1:Service"] = "catalog-v2";
            settings[route + "Backends:1:Weight"] = "10";
        }

        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        services.AddMeshClient()
            .AddStaticEndpoints("catalog", "http://127.0.0.1:5001")
            .AddStaticEndpoints("plain", "http://127.0.0.1:5001")
            .AddStaticEndpoints("catalog-v1", "http://127.0.0.1:5002", "http://127.0.0.1:5003")
            .AddStaticEndpoints("catalog-v2", "http://127.0.0.1:5004");
        services.AddHttpClient("bench").AddMeshHandler();
        _services = services.BuildServiceProvider();
        var registry = _services.GetRequiredService<ServiceRegistry>();
        _client = registry.GetClient("bench");
        _routed = _client.GetOrCreate(new RouteKey("http", "catalog"), out _)!;
        _plain = _client.GetOrCreate(new RouteKey("http", "plain"), out _)!;
        _request = new HttpRequestMessage(HttpMethod.Get, $"http://catalog/api/r{Rules - 1:D3}/items");
        _request.Headers.TryAddWithoutValidation("x-canary", "1");
        if (SelectRoute() is null || SelectRouteByScan() is null || NoRoute() is not null)
        {
            throw new InvalidOperationException("The request should match the last rule of catalog, and plain should have no routes.");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _request.Dispose();
        _services.Dispose();
    }

    /// <summary>What a service without routes pays: the same read and test MeshHandler makes.</summary>
    [Benchmark(Baseline = true)]
    public object? NoRoute()
    {
        var policies = _plain.Policies;
        return policies.Routes is { } routes ? routes.Match(_request) : null;
    }

    /// <summary>Match among <see cref="Rules"/> rules, then pick one of two weighted backends.</summary>
    [Benchmark]
    public object? SelectRoute() => PickBackend(_routed.Policies.Routes?.Match(_request));

    /// <summary>The same selection by a scan of every match in precedence order, without the index (how it was before the index).</summary>
    [Benchmark]
    public object? SelectRouteByScan() => PickBackend(_routed.Policies.Routes?.MatchByScan(_request));

    /// <summary>The match alone, with the index (no backend pick).</summary>
    [Benchmark]
    public object? MatchOnly() => _routed.Policies.Routes?.Match(_request);

    /// <summary>The match alone, by the scan.</summary>
    [Benchmark]
    public object? MatchOnlyByScan() => _routed.Policies.Routes?.MatchByScan(_request);

    private RouteBackend? PickBackend(CompiledRoute? route) => route?.Pick(_client, "http", hash: null);
}
