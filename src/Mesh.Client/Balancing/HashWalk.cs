using Mesh.Client.Discovery;

namespace Mesh.Client.Balancing;

/// <summary>
/// The pick shared by <see cref="RingHashBalancer"/> and <see cref="MaglevBalancer"/>: from the entry the request hash
/// lands on, walk forward (wrapping) to the first distinct member that is routable, not excluded and, with bounded
/// loads, below its capacity (gRPC A42's rule for unavailable endpoints, Envoy's for bounded loads).
/// </summary>
/// <remarks>
/// Both structures are built over every member, so a health change never moves a key whose endpoint stays routable:
/// only the keys of the endpoint that left walk on to their next entry. When every routable, allowed endpoint is
/// full, the first of them is returned: bounded loads never fail a request.
/// </remarks>
internal static class HashWalk
{
    public static MeshEndpoint? Pick(int[] sequence, int start, EndpointSet set, double? balanceFactor, long routableWeight, in PickContext context)
    {
        var members = set.EndpointArray;
        MeshEndpoint? firstFull = null;
        BoundedLoad? bounds = null;
        int previous = -1;
        int length = sequence.Length;
        for (int step = 0; step < length; step++)
        {
            int position = start + step;
            if (position >= length)
            {
                position -= length;
            }

            int member = sequence[position];
            if (member == previous)
            {
                continue;
            }

            previous = member;
            if (!set.IsRoutable(member))
            {
                continue;
            }

            var endpoint = members[member];
            if (!context.Excluded.IsEmpty && context.IsExcluded(endpoint))
            {
                continue;
            }

            if (balanceFactor is { } factor && endpoint.Load.InFlight > 0)
            {
                bounds ??= BoundedLoad.Measure(factor, set.RoutableArray, routableWeight);
                if (bounds.Value.IsFull(endpoint))
                {
                    firstFull ??= endpoint;
                    continue;
                }
            }

            return endpoint;
        }

        return firstFull;
    }
}
