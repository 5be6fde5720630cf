using Mesh.Client.Discovery;

namespace Mesh.Client.Balancing;

/// <summary>
/// A load-balancing policy: given a service's endpoints, picks one for each attempt.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="Update(EndpointSet)"/> runs off the request path whenever the service's snapshot changes (membership
/// or health); a policy rebuilds its structures there (a ring, a table, a schedule) and publishes them atomically.
/// <see cref="Pick(in PickContext)"/> runs on every attempt, possibly on many threads at once and concurrently with
/// <see cref="Update(EndpointSet)"/>: it must take no lock, allocate nothing, and see either the old or the new
/// structure, never a mix.
/// </para>
/// <para>Every policy is usable on its own, without dependency injection: construct it, update it, pick.</para>
/// </remarks>
public interface ILoadBalancer
{
    /// <summary>Takes a new snapshot of the service's endpoints. Called before the first pick and on every change.</summary>
    void Update(EndpointSet endpoints);

    /// <summary>
    /// Picks a routable endpoint that <paramref name="context"/> does not exclude, or returns <see langword="null"/>
    /// when there is none.
    /// </summary>
    MeshEndpoint? Pick(in PickContext context);
}
