using Mesh.Client.Options;

namespace Mesh.Client.Balancing;

/// <summary>Creates the balancer a service's options ask for.</summary>
internal static class LoadBalancerFactory
{
    public static ILoadBalancer Create(MeshServiceOptions options, TimeProvider timeProvider)
    {
        _ = timeProvider;
        return options.Balancer switch
        {
            BalancerKind.RoundRobin => new RoundRobinBalancer(),
            BalancerKind.Random => new RandomBalancer(),
            _ => throw new InvalidOperationException($"Balancer '{options.Balancer}' is not supported."),
        };
    }
}
