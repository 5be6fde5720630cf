using Mesh.Client.Discovery;

namespace Mesh.Client.Balancing;

/// <summary>Random: each pick takes a uniformly random routable endpoint. Ignores weights and load.</summary>
internal sealed class RandomBalancer : ILoadBalancer
{
    private readonly Random _random;
    private MeshEndpoint[] _routable = [];

    /// <summary>Creates the policy with the shared, thread-safe random source.</summary>
    public RandomBalancer()
        : this(Random.Shared)
    {
    }

    /// <summary>Creates the policy with <paramref name="random"/>, which must be thread-safe if picks run concurrently.</summary>
    public RandomBalancer(Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        _random = random;
    }

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
        return routable.Length == 0 ? null : PickHelpers.FirstAllowedFrom(routable, _random.Next(routable.Length), context);
    }
}
