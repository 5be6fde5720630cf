using Mesh.Client.Discovery;

namespace Mesh.Client.Balancing;

/// <summary>
/// Round robin: each pick takes the next routable endpoint in turn. Ignores weights and load; the baseline the
/// other policies are measured against.
/// </summary>
/// <remarks>One interlocked increment per pick; the counter is shared by every thread, so turns are fair under contention.</remarks>
internal sealed class RoundRobinBalancer : ILoadBalancer
{
    private MeshEndpoint[] _routable = [];
    private uint _next;

    /// <inheritdoc />
    public void Update(EndpointSet endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        Volatile.Write(ref _routable, endpoints.RoutableArray);
    }

    /// <inheritdoc />
    public MeshEndpoint? Pick(in PickContext context)
    {
        var routable = Volatile.Read(ref _routable);
        if (routable.Length == 0)
        {
            return null;
        }

        uint turn = Interlocked.Increment(ref _next) - 1;
        return PickHelpers.FirstAllowedFrom(routable, (int)(turn % (uint)routable.Length), context);
    }
}
