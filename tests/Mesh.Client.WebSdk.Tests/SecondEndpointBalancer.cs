namespace WebSdkConsumer;

/// <summary>
/// A custom balancer registered under <see cref="BalancerName"/>: it always picks the second routable endpoint (the
/// first one it has not excluded, if the second is excluded), and counts its picks.
/// </summary>
internal sealed class SecondEndpointBalancerFactory : ILoadBalancerFactory
{
    public const string BalancerName = "SecondEndpoint";

    private int _created;
    private long _picks;

    public string Name => BalancerName;

    /// <summary>Balancers created so far (one per client and service).</summary>
    public int Created => Volatile.Read(ref _created);

    /// <summary>Endpoints picked so far, by every balancer this factory created.</summary>
    public long Picks => Interlocked.Read(ref _picks);

    /// <summary>The services balancers were created for.</summary>
    public List<string> Services { get; } = [];

    public ILoadBalancer Create(LoadBalancerContext context)
    {
        lock (Services)
        {
            Services.Add(context.ServiceName);
        }

        Interlocked.Increment(ref _created);
        return new SecondEndpointBalancer(this);
    }

    private void OnPick() => Interlocked.Increment(ref _picks);

    private sealed class SecondEndpointBalancer(SecondEndpointBalancerFactory factory) : ILoadBalancer
    {
        private EndpointSet _endpoints = EndpointSet.Empty;

        public void Update(EndpointSet endpoints) => Volatile.Write(ref _endpoints, endpoints);

        public MeshEndpoint? Pick(in PickContext context)
        {
            var routable = Volatile.Read(ref _endpoints).Routable;
            MeshEndpoint? picked = null;
            if (routable.Length > 1 && !context.IsExcluded(routable[1]))
            {
                picked = routable[1];
            }
            else
            {
                foreach (var endpoint in routable)
                {
                    if (!context.IsExcluded(endpoint))
                    {
                        picked = endpoint;
                        break;
                    }
                }
            }

            if (picked is not null)
            {
                factory.OnPick();
            }

            return picked;
        }
    }
}
