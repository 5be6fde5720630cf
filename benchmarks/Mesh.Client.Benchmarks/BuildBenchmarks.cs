using BenchmarkDotNet.Attributes;
using Mesh.Client.Balancing;
using Mesh.Client.Discovery;

namespace Mesh.Client.Benchmarks;

/// <summary>Building a ring (100 endpoints, exactly N entries) and a Maglev table (65,537 slots, N endpoints) off the hot path.</summary>
[MemoryDiagnoser]
public class RingBuildBenchmarks
{
    private EndpointSet _set = EndpointSet.Empty;

    [Params(1_024, 65_536, 262_144)]
    public int RingSize { get; set; }

    [GlobalSetup]
    public void Setup() => _set = new EndpointSet(Enumerable.Range(0, 100).Select(i => new MeshEndpoint("http", $"10.0.0.{i + 1}", 8080)));

    [Benchmark]
    public int BuildRing() => RingHashBalancer.Ring.Build(_set, RingSize, RingSize).Hashes.Length;
}

/// <summary>Building a Maglev table of 65,537 slots.</summary>
[MemoryDiagnoser]
public class MaglevBuildBenchmarks
{
    private EndpointSet _set = EndpointSet.Empty;

    [Params(100, 1_000)]
    public int Endpoints { get; set; }

    [GlobalSetup]
    public void Setup() => _set = new EndpointSet(Enumerable.Range(0, Endpoints).Select(i => new MeshEndpoint("http", $"10.0.{i / 256}.{i % 256}", 8080)));

    [Benchmark]
    public int BuildTable() => MaglevBalancer.LookupTable.Build(_set, MaglevOptions.DefaultTableSize).Slots.Length;
}
