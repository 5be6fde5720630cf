using System.Text;
using System.Text.Json.Nodes;
using BenchmarkDotNet.Attributes;
using Mesh.Client.Balancing;
using Mesh.Client.Discovery;
using Mesh.Client.Kubernetes;
using k8s;
using k8s.Models;
using Mesh.Client.Kubernetes.Api;
using Mesh.Client.Kubernetes.Discovery;
using Mesh.Client.Routing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Mesh.Client.Benchmarks.Kubernetes;

/// <summary>
/// A Service of 5,000 pods in 50 EndpointSlices of 100. One watch event (a MODIFIED slice, as the API server sends it)
/// goes through everything between the socket and the balancer: decode the JSON line, replace the slice, re-project it
/// (the other 49 keep their cached endpoints), merge 5,000 endpoints, and hand them to the service, which diffs them
/// against the previous snapshot, builds the new <see cref="EndpointSet"/>, updates the balancer and swaps the snapshot
/// that picks read. When the call returns, the next pick sees the change: the time per operation is the time from a
/// watch event to the change being visible to picks (network read excluded).
/// </summary>
[MemoryDiagnoser]
public class EndpointSliceEventBenchmarks
{
    private const int Slices = 50;
    private const int PerSlice = 100;
    private byte[][] _events = [];
    private int _next;
    private EndpointSliceWatch _watch = null!;
    private ServiceState _state = null!;
    private KubernetesApi _api = null!;

    [GlobalSetup]
    public void Setup()
    {
        long before = GC.GetTotalMemory(forceFullCollection: true);
        (_watch, _state, _api) = Build();
        long after = GC.GetTotalMemory(forceFullCollection: true);
        if (_state.Endpoints.Count != Slices * PerSlice || _state.Balancer.Pick(new PickContext()) is null)
        {
            throw new InvalidOperationException($"Setup published {_state.Endpoints.Count} endpoints, expected {Slices * PerSlice}.");
        }

        Console.WriteLine($"// Memory held by one watched service of {Slices * PerSlice} endpoints in {Slices} slices (watch view + service snapshot + balancer): {(after - before) / 1024.0:0} KiB");

        // Two versions of slice 25: all ready, and its first pod not ready. Alternating them changes the set every time.
        _events =
        [
            Encoding.UTF8.GetBytes(EventLine("MODIFIED", Slice(25, notReady: 0, resourceVersion: 20000))),
            Encoding.UTF8.GetBytes(EventLine("MODIFIED", Slice(25, notReady: -1, resourceVersion: 20001))),
        ];
        _watch.ApplyForBenchmark(Encoding.UTF8.GetString(_events[0]));
        if (_state.Endpoints.Count != (Slices * PerSlice) - 1)
        {
            throw new InvalidOperationException("The not-ready event did not reach the service.");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _state.Dispose();
        _watch.Dispose();
        _api.Dispose();
    }

    /// <summary>One MODIFIED event (a pod goes not-ready, or back) → visible to picks.</summary>
    [Benchmark]
    public int WatchEventToPicks()
    {
        _watch.ApplyForBenchmark(Encoding.UTF8.GetString(_events[_next ^= 1])); // KubernetesClient reads lines as strings
        return _state.Endpoints.Count;
    }

    /// <summary>A relist: 50 slices parsed objects → 5,000 endpoints published to a fresh service (as after a 410 Gone).</summary>
    [Benchmark]
    public int ListToPicks()
    {
        var (watch, state, api) = Build();
        int count = state.Endpoints.Count;
        state.Dispose();
        watch.Dispose();
        api.Dispose();
        return count;
    }

    private static (EndpointSliceWatch, ServiceState, KubernetesApi) Build()
    {
        var options = new KubernetesResolverOptions();
        var api = new KubernetesApi(new KubernetesClientConfiguration { Host = "https://127.0.0.1:1" }, "benchmark");
        var watch = new EndpointSliceWatch(new KubernetesServiceName("catalog", "default"), api, options, TimeProvider.System, NullLogger.Instance);
        var query = new EndpointQuery("catalog", ["http"]);
        var state = new ServiceState("bench", query, new MeshServiceOptions(), new RoundRobinBalancer(), TimeProvider.System, NullLogger.Instance);
        watch.Subscribe(state, portSelector: null, query.Schemes);
        var service = new V1Service { Spec = new V1ServiceSpec { Ports = [new V1ServicePort { Name = "http", Port = 80 }], IpFamilies = ["IPv4"] } };
        var slices = new List<V1EndpointSlice>(Slices);
        for (int s = 0; s < Slices; s++)
        {
            slices.Add(KubernetesJson.Deserialize<V1EndpointSlice>(Slice(s, notReady: -1, resourceVersion: 1000 + s).ToJsonString()));
        }

        watch.LoadForBenchmark(service, slices);
        return (watch, state, api);
    }

    private static string EventLine(string type, JsonObject slice) => new JsonObject { ["type"] = type, ["object"] = slice }.ToJsonString();

    private static JsonObject Slice(int index, int notReady, int resourceVersion)
    {
        var endpoints = new JsonArray();
        for (int i = 0; i < PerSlice; i++)
        {
            endpoints.Add(new JsonObject
            {
                ["addresses"] = new JsonArray($"10.{index / 250}.{index % 250}.{i + 1}"),
                ["conditions"] = new JsonObject { ["ready"] = i != notReady, ["serving"] = i != notReady, ["terminating"] = false },
                ["nodeName"] = $"node-{i % 20}",
                ["zone"] = $"zone-{i % 3}",
                ["targetRef"] = new JsonObject { ["kind"] = "Pod", ["namespace"] = "default", ["name"] = $"catalog-{index}-{i}", ["uid"] = Guid.NewGuid().ToString() },
            });
        }

        return new JsonObject
        {
            ["kind"] = "EndpointSlice",
            ["apiVersion"] = "discovery.k8s.io/v1",
            ["metadata"] = new JsonObject
            {
                ["name"] = $"catalog-{index:000}",
                ["namespace"] = "default",
                ["resourceVersion"] = resourceVersion.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["labels"] = new JsonObject { ["kubernetes.io/service-name"] = "catalog" },
            },
            ["addressType"] = "IPv4",
            ["endpoints"] = endpoints,
            ["ports"] = new JsonArray(new JsonObject { ["name"] = "http", ["port"] = 8080, ["protocol"] = "TCP" }),
        };
    }
}
