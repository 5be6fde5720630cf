using Mesh.Client.Discovery;

namespace Mesh.Client.Balancing;

/// <summary>
/// Consistent hashing with bounded loads (Mirrokni, Thorup and Zadimoghaddam; Envoy's <c>hash_balance_factor</c>):
/// the capacity each endpoint has for the next request, given the requests in flight.
/// </summary>
/// <remarks>
/// Capacity is <c>ceil(factor × (in flight + 1) × weight / total weight)</c>, at least 1, over the routable endpoints.
/// An endpoint below its capacity takes the request; a full one passes it on along the ring or table. Because every
/// endpoint is checked against the capacity that counts the request being placed, no endpoint ever holds more than
/// <c>ceil(factor × mean)</c> (with equal weights) after a placement. The total in flight is summed over the routable
/// endpoints (linear), and only when the first candidate is busy: an idle endpoint is always below capacity.
/// </remarks>
internal readonly struct BoundedLoad
{
    private readonly double _factor;
    private readonly MeshEndpoint[] _routable;
    private readonly long _totalWeight;
    private readonly long _totalInFlight;

    private BoundedLoad(double factor, MeshEndpoint[] routable, long totalWeight, long totalInFlight)
    {
        _factor = factor;
        _routable = routable;
        _totalWeight = totalWeight;
        _totalInFlight = totalInFlight;
    }

    /// <summary>Sums the routable endpoints' requests in flight, once per pick.</summary>
    public static BoundedLoad Measure(double factor, MeshEndpoint[] routable, long totalWeight)
    {
        long total = 0;
        foreach (var endpoint in routable)
        {
            total += endpoint.Load.InFlight;
        }

        return new BoundedLoad(factor, routable, totalWeight, total);
    }

    /// <summary>Whether <paramref name="endpoint"/> is already at its capacity for the next request.</summary>
    public bool IsFull(MeshEndpoint endpoint)
    {
        int inFlight = endpoint.Load.InFlight;
        if (inFlight == 0 || _routable.Length == 0)
        {
            return false;
        }

        double capacity = Math.Ceiling(_factor * (_totalInFlight + 1) * endpoint.Weight / _totalWeight);
        return inFlight >= Math.Max(1, capacity);
    }

    /// <summary>Sum of weights of <paramref name="routable"/>.</summary>
    public static long TotalWeight(MeshEndpoint[] routable)
    {
        long total = 0;
        foreach (var endpoint in routable)
        {
            total += endpoint.Weight;
        }

        return total;
    }
}
