using System.Collections;

namespace Mesh.Client;

/// <summary>
/// An immutable snapshot of a service's endpoints: every member, and the subset a balancer may route to now.
/// A service swaps its snapshot atomically; a request reads one snapshot and never sees a half-applied update.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="Routable"/> is what health allows: the available endpoints, or every endpoint while the service is
/// in panic (<see cref="IsPanic"/>). A health change publishes a new set with the same members
/// (<see cref="MembershipVersion"/> unchanged) and a new routable subset, so balancers whose structures depend only
/// on membership (a hash ring, a Maglev table) need not rebuild.
/// </para>
/// <para>Endpoints keep the order the resolver gave; an endpoint that appears twice (same <see cref="MeshEndpoint.Key"/>) is kept once.</para>
/// </remarks>
public sealed class EndpointSet : IReadOnlyList<MeshEndpoint>
{
    private static long s_membershipVersions;

    private readonly MeshEndpoint[] _endpoints;
    private readonly MeshEndpoint[] _routable;
    private readonly bool[] _isRoutable;

    /// <summary>An empty set.</summary>
    public static EndpointSet Empty { get; } = new(Array.Empty<MeshEndpoint>());

    /// <summary>Creates a set in which every endpoint is routable.</summary>
    internal EndpointSet(IEnumerable<MeshEndpoint> endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        _endpoints = Deduplicate(endpoints);
        _routable = _endpoints;
        _isRoutable = new bool[_endpoints.Length];
        Array.Fill(_isRoutable, true);
        MembershipVersion = Interlocked.Increment(ref s_membershipVersions);
    }

    private EndpointSet(MeshEndpoint[] endpoints, long membershipVersion, MeshEndpoint[] routable, bool[] isRoutable, bool isPanic)
    {
        _endpoints = endpoints;
        MembershipVersion = membershipVersion;
        _routable = routable;
        _isRoutable = isRoutable;
        IsPanic = isPanic;
    }

    /// <summary>Every member, in the resolver's order.</summary>
    public ReadOnlySpan<MeshEndpoint> Endpoints => _endpoints;

    /// <summary>The members a balancer may pick now (available ones, or all of them in panic).</summary>
    public ReadOnlySpan<MeshEndpoint> Routable => _routable;

    /// <summary>Whether the member at <paramref name="index"/> (in <see cref="Endpoints"/>) is routable.</summary>
    public bool IsRoutable(int index) => _isRoutable[index];

    /// <summary>Whether fewer endpoints are available than the panic threshold, so every member is routable.</summary>
    public bool IsPanic { get; }

    /// <summary>Identifies the membership: equal for two sets with the same members, however health changed.</summary>
    public long MembershipVersion { get; }

    /// <summary>The number of members.</summary>
    public int Count => _endpoints.Length;

    /// <summary>The member at <paramref name="index"/>.</summary>
    public MeshEndpoint this[int index] => _endpoints[index];

    internal MeshEndpoint[] EndpointArray => _endpoints;

    internal MeshEndpoint[] RoutableArray => _routable;

    /// <summary>
    /// A set with the same members whose routable subset is <paramref name="isRoutable"/> (one flag per member).
    /// </summary>
    internal EndpointSet WithRoutable(ReadOnlySpan<bool> isRoutable, bool isPanic)
    {
        if (isRoutable.Length != _endpoints.Length)
        {
            throw new ArgumentException($"Expected {_endpoints.Length} flags, one per member; got {isRoutable.Length}.", nameof(isRoutable));
        }

        var flags = isRoutable.ToArray();
        int count = 0;
        foreach (bool flag in flags)
        {
            count += flag ? 1 : 0;
        }

        MeshEndpoint[] routable;
        if (count == _endpoints.Length)
        {
            routable = _endpoints;
        }
        else
        {
            routable = new MeshEndpoint[count];
            for (int i = 0, j = 0; i < flags.Length; i++)
            {
                if (flags[i])
                {
                    routable[j++] = _endpoints[i];
                }
            }
        }

        return new EndpointSet(_endpoints, MembershipVersion, routable, flags, isPanic);
    }

    /// <summary>Finds the member with <paramref name="key"/> (<see cref="MeshEndpoint.Key"/>), by a linear scan.</summary>
    internal MeshEndpoint? Find(string key)
    {
        foreach (var endpoint in _endpoints)
        {
            if (string.Equals(endpoint.Key, key, StringComparison.Ordinal))
            {
                return endpoint;
            }
        }

        return null;
    }

    /// <inheritdoc />
    public IEnumerator<MeshEndpoint> GetEnumerator() => ((IEnumerable<MeshEndpoint>)_endpoints).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <inheritdoc />
    public override string ToString() =>
        $"{_endpoints.Length} endpoints, {_routable.Length} routable{(IsPanic ? " (panic)" : string.Empty)}";

    private static MeshEndpoint[] Deduplicate(IEnumerable<MeshEndpoint> endpoints)
    {
        var list = new List<MeshEndpoint>(endpoints is ICollection<MeshEndpoint> c ? c.Count : 4);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var endpoint in endpoints)
        {
            ArgumentNullException.ThrowIfNull(endpoint);
            if (seen.Add(endpoint.Key))
            {
                list.Add(endpoint);
            }
        }

        return list.ToArray();
    }
}
