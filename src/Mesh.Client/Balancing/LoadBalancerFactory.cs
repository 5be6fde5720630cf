using Mesh.Client.Options;

namespace Mesh.Client.Balancing;

/// <summary>Creates the balancer a service's options ask for.</summary>
internal static class LoadBalancerFactory
{
    public static ILoadBalancer Create(MeshServiceOptions options, TimeProvider timeProvider) => options.Balancer switch
    {
        BalancerKind.RoundRobin => new RoundRobinBalancer(),
        BalancerKind.Random => new RandomBalancer(),
        BalancerKind.PeakEwma => new PeakEwmaBalancer(options.PeakEwma, timeProvider),
        BalancerKind.LeastRequest => new LeastRequestBalancer(options.LeastRequest, timeProvider: timeProvider),
        BalancerKind.WeightedRoundRobin => new WeightedRoundRobinBalancer(timeProvider),
        BalancerKind.RingHash => new RingHashBalancer(new RingHashOptions
        {
            MinimumRingSize = options.RingHash.MinimumRingSize,
            MaximumRingSize = options.RingHash.MaximumRingSize,
            BalanceFactor = options.BalanceFactor ?? options.RingHash.BalanceFactor,
        }),
        BalancerKind.Maglev => new MaglevBalancer(new MaglevOptions
        {
            TableSize = options.Maglev.TableSize,
            BalanceFactor = options.BalanceFactor ?? options.Maglev.BalanceFactor,
        }),
        _ => throw new InvalidOperationException($"Balancer '{options.Balancer}' is not supported."),
    };

    /// <summary>Whether <paramref name="kind"/> picks by request hash, so the service computes one per request.</summary>
    public static bool IsHashBased(BalancerKind kind) => kind is BalancerKind.RingHash or BalancerKind.Maglev;
}
