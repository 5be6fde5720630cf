using BenchmarkDotNet.Attributes;
using Mesh.Client.Balancing;
using Mesh.Client.Discovery;

namespace Mesh.Client.Benchmarks;

/// <summary>
/// Issue 15's pick goals (PeakEwma and LeastRequest ≤ 50 ns at 10,000 endpoints), before and after in one run: the
/// current balancers and copies of them as they were before the change (<c>Before15/</c>), set up as
/// <see cref="PickBenchmarks"/> does (weights 1-3, all routable, nothing in flight).
/// </summary>
[MemoryDiagnoser]
public class StallPickBenchmarks
{
    private ILoadBalancer _balancer = null!;

    [Params("PeakEwma", "PeakEwma-before15", "LeastRequest", "LeastRequest-before15")]
    public string Policy { get; set; } = "PeakEwma";

    [Params(1_000, 10_000)]
    public int Endpoints { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _balancer = Policy switch
        {
            "PeakEwma" => new PeakEwmaBalancer(),
            "PeakEwma-before15" => new Before15.PeakEwmaBalancerBefore15(),
            "LeastRequest" => new LeastRequestBalancer(),
            "LeastRequest-before15" => new Before15.LeastRequestBalancerBefore15(),
            _ => throw new ArgumentException(Policy),
        };
        var endpoints = Enumerable.Range(0, Endpoints)
            .Select(i => new MeshEndpoint("http", $"10.{i / 65536}.{i / 256 % 256}.{i % 256}", 8080, 1 + (i % 3)));
        _balancer.Update(new EndpointSet(endpoints));
    }

    [Benchmark]
    public MeshEndpoint? Pick() => _balancer.Pick(new PickContext());
}
