namespace Mesh.Client.Balancing;

/// <summary>
/// The balancers services can select: the built-in policies, and the factories registered in dependency injection (a
/// registered name replaces a built-in one).
/// </summary>
internal sealed class LoadBalancerFactory
{
    private static readonly string[] s_builtIn =
        [BalancerNames.RoundRobin, BalancerNames.Random, BalancerNames.PeakEwma, BalancerNames.LeastRequest,
         BalancerNames.WeightedRoundRobin, BalancerNames.RingHash, BalancerNames.Maglev];

    private readonly Dictionary<string, ILoadBalancerFactory> _custom = new(StringComparer.OrdinalIgnoreCase);

    public LoadBalancerFactory(IEnumerable<ILoadBalancerFactory>? factories = null)
    {
        foreach (var factory in factories ?? [])
        {
            _custom[factory.Name] = factory;
        }

        var names = new SortedSet<string>(s_builtIn, StringComparer.OrdinalIgnoreCase);
        names.UnionWith(_custom.Keys);
        Names = [.. names];
    }

    /// <summary>Every name a service may select, for validation messages.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>Whether <paramref name="name"/> selects a balancer.</summary>
    public bool IsKnown(string? name) =>
        name is not null && (_custom.ContainsKey(name) || Array.Exists(s_builtIn, n => string.Equals(n, name, StringComparison.OrdinalIgnoreCase)));

    public ILoadBalancer Create(string serviceName, MeshServiceOptions options, TimeProvider timeProvider)
    {
        if (_custom.TryGetValue(options.Balancer, out var factory))
        {
            return factory.Create(new LoadBalancerContext(serviceName, options, timeProvider));
        }

        return CreateBuiltIn(options, timeProvider);
    }

    /// <summary>Whether the service's balancer picks by request hash, so the service computes one per request.</summary>
    public static bool IsHashBased(string balancer) =>
        string.Equals(balancer, BalancerNames.RingHash, StringComparison.OrdinalIgnoreCase)
        || string.Equals(balancer, BalancerNames.Maglev, StringComparison.OrdinalIgnoreCase);

    internal static ILoadBalancer CreateBuiltIn(MeshServiceOptions options, TimeProvider timeProvider) => options.Balancer.ToUpperInvariant() switch
    {
        "ROUNDROBIN" => new RoundRobinBalancer(),
        "RANDOM" => new RandomBalancer(),
        "PEAKEWMA" => new PeakEwmaBalancer(options.PeakEwma, timeProvider),
        "LEASTREQUEST" => new LeastRequestBalancer(options.LeastRequest, timeProvider: timeProvider),
        "WEIGHTEDROUNDROBIN" => new WeightedRoundRobinBalancer(timeProvider),
        "RINGHASH" => new RingHashBalancer(new RingHashOptions
        {
            MinimumRingSize = options.RingHash.MinimumRingSize,
            MaximumRingSize = options.RingHash.MaximumRingSize,
            BalanceFactor = options.BalanceFactor ?? options.RingHash.BalanceFactor,
        }),
        "MAGLEV" => new MaglevBalancer(new MaglevOptions
        {
            TableSize = options.Maglev.TableSize,
            BalanceFactor = options.BalanceFactor ?? options.Maglev.BalanceFactor,
        }),
        _ => throw new InvalidOperationException($"Balancer '{options.Balancer}' is not registered."),
    };
}
