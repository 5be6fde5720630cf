using Mesh.Client.Discovery;

namespace Mesh.Client.Balancing;

/// <summary>
/// What a balancer may know about the attempt it picks for: the request, its hash (for hash-based policies), and
/// endpoints this request already tried, which a retry must avoid. A stack-only value: passing it allocates nothing.
/// </summary>
public readonly ref struct PickContext
{
    /// <summary>A context with no request, no hash and no exclusions.</summary>
    public PickContext()
    {
    }

    /// <summary>Creates a context.</summary>
    /// <param name="request">The request being sent, if any.</param>
    /// <param name="requestHash">The request's hash for hash-based policies, if the service computes one.</param>
    /// <param name="excluded">Endpoints this request already tried.</param>
    public PickContext(HttpRequestMessage? request, ulong? requestHash = null, ReadOnlySpan<MeshEndpoint> excluded = default)
    {
        Request = request;
        RequestHash = requestHash;
        Excluded = excluded;
    }

    /// <summary>The request being sent, if any.</summary>
    public HttpRequestMessage? Request { get; }

    /// <summary>
    /// The request's hash, computed by the service's hash policy. Hash-based policies pick a random endpoint when it
    /// is absent; other policies ignore it.
    /// </summary>
    public ulong? RequestHash { get; }

    /// <summary>Endpoints this request already tried; a pick avoids them while any other is routable.</summary>
    public ReadOnlySpan<MeshEndpoint> Excluded { get; }

    /// <summary>
    /// Whether <paramref name="endpoint"/> is excluded: a linear scan of a list as long as the attempts so far.
    /// Endpoints are compared by identity of their live state, so an endpoint re-published with a new weight
    /// between two attempts is still recognised.
    /// </summary>
    public bool IsExcluded(MeshEndpoint endpoint)
    {
        foreach (var excluded in Excluded)
        {
            if (ReferenceEquals(excluded.Load, endpoint.Load))
            {
                return true;
            }
        }

        return false;
    }
}
