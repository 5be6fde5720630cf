namespace Mesh.Client.Balancing;

/// <summary>
/// Creates a balancer for a service, under a name services select it by (<c>Mesh:Services:&lt;service&gt;:Balancer</c>),
/// as YARP's and gRPC's policies are named. Register one with <c>AddMeshClient().AddLoadBalancer&lt;TFactory&gt;()</c>.
/// </summary>
/// <remarks>
/// The mesh creates one balancer per client and service, and a new one when the service's options change. A factory
/// whose name is a built-in name (<see cref="BalancerNames"/>) replaces the built-in policy.
/// </remarks>
public interface ILoadBalancerFactory
{
    /// <summary>The name services select this balancer by; matched without regard to case.</summary>
    string Name { get; }

    /// <summary>Creates a balancer for one client's use of one service.</summary>
    ILoadBalancer Create(LoadBalancerContext context);
}

/// <summary>What a balancer is created for: the service, its options, and the clock its endpoints are timed with.</summary>
public sealed class LoadBalancerContext
{
    internal LoadBalancerContext(string serviceName, MeshServiceOptions options, TimeProvider timeProvider)
    {
        ServiceName = serviceName;
        Options = options;
        TimeProvider = timeProvider;
    }

    /// <summary>The logical service name.</summary>
    public string ServiceName { get; }

    /// <summary>The service's options (read them; do not change them).</summary>
    public MeshServiceOptions Options { get; }

    /// <summary>The clock attempts are timed with.</summary>
    public TimeProvider TimeProvider { get; }
}
