namespace Mesh.Client.Balancing;

/// <summary>The built-in load-balancing policies.</summary>
public enum BalancerKind
{
    /// <summary>Each pick takes the next endpoint in turn (<see cref="RoundRobinBalancer"/>).</summary>
    RoundRobin,

    /// <summary>Each pick takes a uniformly random endpoint (<see cref="RandomBalancer"/>).</summary>
    Random,

    /// <summary>
    /// The cheaper of two random endpoints by latency estimate × (requests in flight + 1) (<see cref="PeakEwmaBalancer"/>).
    /// The default: it steers away from slow replicas within a few requests.
    /// </summary>
    PeakEwma,

    /// <summary>The endpoint with the fewest requests in flight of two (or more) random ones (<see cref="LeastRequestBalancer"/>).</summary>
    LeastRequest,

    /// <summary>Smooth weighted round robin by <see cref="Discovery.Endpoint.Weight"/> (<see cref="WeightedRoundRobinBalancer"/>).</summary>
    WeightedRoundRobin,

    /// <summary>Consistent hashing on a ring, compatible with Envoy and gRPC (<see cref="RingHashBalancer"/>).</summary>
    RingHash,

    /// <summary>Maglev consistent hashing, compatible with Envoy (<see cref="MaglevBalancer"/>).</summary>
    Maglev,
}
