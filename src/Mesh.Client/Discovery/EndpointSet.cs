using System.Collections;

namespace Mesh.Client.Discovery;

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
/// <para>Endpoints keep the order the resolver gave; an endpoint that appears twice (same <see cref="Endpoint.Key"/>) is kept once.</para>
/// </remarks>
public sealed class EndpointSet : IReadOnlyList<Endpoint>
{
    private static long s_membershipVersions;

    private readonly Endpoint[] _endpoints;
    private readonly Endpoint[] _routable;
    private readonly bool[] _isRoutable;

    /// <summary>An empty set.</summary>
    public static EndpointSet Empty { get; } = new(Array.Empty<Endpoint>());

    /// <summary>Creates a set in which every endpoint is routable.</summary>
    public EndpointSet(IEnumerable<Endpoint> endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        _endpoints = Deduplicate(endpoints);
        _routable = _endpoints;
        _isRoutable = new bool[_endpoints.Length];
        Array.Fill(_isRoutable, true);
        MembershipVersion = Interlocked.Increment(ref s_membershipVersions);
    }

    private EndpointSet(Endpoint[] endpoints, long membershipVersion, Endpoint[] routable, bool[] isRoutable, bool isPanic)
    {
        _endpoints = endpoints;
        MembershipVersion = membershipVersion;
        _routable = routable;
        _isRoutable = isRoutable;
        IsPanic = isPanic;
    }

    /// <summary>Every member, in the resolver's order.</summary>
    public ReadOnlySpan<Endpoint> Endpoints => _endpoints;

    /// <summary>The members a balancer may pick now (available ones, or all of them in panic).</summary>
    public ReadOnlySpan<Endpoint> Routable => _routable;

    /// <summary>Whether the member at <paramref name="index"/> (in <see cref="Endpoints"/>) is routable.</summary>
    public bool IsRoutable(int index) => _isRoutable[index];

    /// <summary>Whether fewer endpoints are available than the panic threshold, so every member is routable.</summary>
    public bool IsPanic { get; }

    /// <summary>Identifies the membership: equal for two sets with the same members, however health changed.</summary>
    public long MembershipVersion { get; }

    /// <summary>The number of members.</summary>
    public int Count => _endpoints.Length;

    /// <summary>The member at <paramref name="index"/>.</summary>
    public Endpoint this[int index] => _endpoints[index];

    internal Endpoint[] EndpointArray => _endpoints;

    internal Endpoint[] RoutableArray => _routable;

    /// <summary>
    /// A set with the same members whose routable subset is <paramref name="isRoutable"/> (one flag per member).
    /// </summary>
    public EndpointSet WithRoutable(ReadOnlySpan<bool> isRoutable, bool isPanic)
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

        Endpoint[] routable;
        if (count == _endpoints.Length)
        {
            routable = _endpoints;
        }
        else
        {
            routable = new Endpoint[count];
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

    /// <summary>Finds the member with <paramref name="key"/> (<see cref="Endpoint.Key"/>), by a linear scan.</summary>
    public Endpoint? Find(string key)
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
    public IEnumerator<Endpoint> GetEnumerator() => ((IEnumerable<Endpoint>)_endpoints).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <inheritdoc />
    public override string ToString() =>
        $"{_endpoints.Length} endpoints, {_routable.Length} routable{(IsPanic ? " (panic)" : string.Empty)}";

    private static Endpoint[] Deduplicate(IEnumerable<Endpoint> endpoints)
    {
        var list = new List<Endpoint>(endpoints is ICollection<Endpoint> c ? c.Count : 4);
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
