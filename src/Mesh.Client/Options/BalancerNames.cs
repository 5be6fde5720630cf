namespace Mesh.Client;

/// <summary>
/// The names of the built-in balancers, as <see cref="MeshServiceOptions.Balancer"/> and configuration
/// (<c>Mesh:Services:&lt;service&gt;:Balancer</c>) take them. Names are matched without regard to case; a custom balancer
/// registered with <c>AddMeshClient().AddLoadBalancer&lt;TFactory&gt;()</c> is selected by its own name the same way.
/// </summary>
public static class BalancerNames
{
    /// <summary>Each pick takes the next endpoint in turn.</summary>
    public const string RoundRobin = nameof(RoundRobin);

    /// <summary>Each pick takes a uniformly random endpoint.</summary>
    public const string Random = nameof(Random);

    /// <summary>
    /// The cheaper of two random endpoints by latency estimate × (requests in flight + 1) (Finagle, Linkerd). The
    /// default: it steers away from slow replicas within a few requests.
    /// </summary>
    public const string PeakEwma = nameof(PeakEwma);

    /// <summary>The endpoint with the fewest requests in flight of two (or more) random ones (Envoy's least request).</summary>
    public const string LeastRequest = nameof(LeastRequest);

    /// <summary>Smooth weighted round robin by <see cref="EndpointAddress.Weight"/>, exact over each cycle.</summary>
    public const string WeightedRoundRobin = nameof(WeightedRoundRobin);

    /// <summary>Consistent hashing on a ring, compatible with Envoy and gRPC.</summary>
    public const string RingHash = nameof(RingHash);

    /// <summary>Maglev consistent hashing, compatible with Envoy.</summary>
    public const string Maglev = nameof(Maglev);
}
