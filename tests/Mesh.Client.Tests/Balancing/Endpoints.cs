using Mesh.Client.Balancing;
using Mesh.Client.Discovery;

namespace Mesh.Client.Tests.Balancing;

/// <summary>Builds endpoint sets for balancer tests.</summary>
internal static class Endpoints
{
    /// <summary>127.0.0.1 on each port, hash key <c>127.0.0.1:port</c> (Envoy's address key).</summary>
    public static EndpointSet Ports(params int[] ports) =>
        new(ports.Select(p => new MeshEndpoint("http", "127.0.0.1", p)));

    /// <summary><paramref name="count"/> endpoints 10.0.x.y:8080.</summary>
    public static EndpointSet Many(int count, int weight = 1) =>
        new(Enumerable.Range(0, count).Select(i => new MeshEndpoint("http", $"10.0.{i / 250}.{(i % 250) + 1}", 8080, weight)));

    /// <summary>The same members with only the listed indexes routable.</summary>
    public static EndpointSet OnlyRoutable(this EndpointSet set, params int[] routable)
    {
        var flags = new bool[set.Count];
        foreach (int i in routable)
        {
            flags[i] = true;
        }

        return set.WithRoutable(flags, isPanic: false);
    }

    /// <summary>The same members with the listed indexes unroutable.</summary>
    public static EndpointSet Without(this EndpointSet set, params int[] unroutable)
    {
        var flags = Enumerable.Repeat(true, set.Count).ToArray();
        foreach (int i in unroutable)
        {
            flags[i] = false;
        }

        return set.WithRoutable(flags, isPanic: false);
    }

    public static MeshEndpoint PickFor(this ILoadBalancer balancer, ulong hash) =>
        balancer.Pick(new PickContext(null, hash)) ?? throw new InvalidOperationException("The balancer picked nothing.");

    public static MeshEndpoint PickOne(this ILoadBalancer balancer) =>
        balancer.Pick(new PickContext()) ?? throw new InvalidOperationException("The balancer picked nothing.");
}
