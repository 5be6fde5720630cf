using BenchmarkDotNet.Attributes;
using Mesh.Client.Balancing;
using Mesh.Client.Discovery;

namespace Mesh.Client.Benchmarks;

/// <summary>
/// One pick per policy over 10 to 10,000 endpoints, everything routable, nothing excluded. Hash-based policies get a
/// precomputed request hash (computing it from headers is the service's cost, not the pick's).
/// </summary>
[MemoryDiagnoser]
public class PickBenchmarks
{
    private readonly ulong[] _hashes = new ulong[1024];
    private ILoadBalancer _balancer = null!;
    private int _next;

    [Params("RoundRobin", "WeightedRoundRobin", "PeakEwma", "PeakEwma-before15", "LeastRequest", "LeastRequest-before15", "RingHash", "Maglev")]
    public string Policy { get; set; } = "RoundRobin";

    [Params(10, 100, 1_000, 10_000)]
    public int Endpoints { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _balancer = Policy switch
        {
            "RoundRobin" => new RoundRobinBalancer(),
            "WeightedRoundRobin" => new WeightedRoundRobinBalancer(),
            "PeakEwma" => new PeakEwmaBalancer(),
            "LeastRequest" => new LeastRequestBalancer(),
            "PeakEwma-before15" => new Before15.PeakEwmaBalancerBefore15(), // the policies as they were before issue 15
            "LeastRequest-before15" => new Before15.LeastRequestBalancerBefore15(),
            "RingHash" => new RingHashBalancer(),
            "Maglev" => new MaglevBalancer(),
            _ => throw new ArgumentException(Policy),
        };

        // Weights 1-3 so the weighted policies do their weighted work.
        var endpoints = Enumerable.Range(0, Endpoints)
            .Select(i => new MeshEndpoint("http", $"10.{i / 65536}.{i / 256 % 256}.{i % 256}", 8080, 1 + (i % 3)));
        _balancer.Update(new EndpointSet(endpoints));
        for (int i = 0; i < _hashes.Length; i++)
        {
            _hashes[i] = Mesh.Client.Balancing.Utf8XxHash64.Hash($"user-{i}");
        }
    }

    [Benchmark]
    public MeshEndpoint? Pick()
    {
        int i = _next++ & (1024 - 1);
        return _balancer.Pick(new PickContext(null, _hashes[i]));
    }
}
