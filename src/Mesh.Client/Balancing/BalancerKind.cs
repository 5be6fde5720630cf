namespace Mesh.Client.Balancing;

/// <summary>The built-in load-balancing policies.</summary>
public enum BalancerKind
{
    /// <summary>Each pick takes the next endpoint in turn (<see cref="RoundRobinBalancer"/>).</summary>
    RoundRobin,

    /// <summary>Each pick takes a uniformly random endpoint (<see cref="RandomBalancer"/>).</summary>
    Random,
}
