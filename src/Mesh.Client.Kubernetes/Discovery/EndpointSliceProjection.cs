using Mesh.Client.Discovery;
using k8s.Models;

namespace Mesh.Client.Kubernetes.Discovery;

/// <summary>One endpoint of a slice, turned into a mesh endpoint for one port, with what routing needs to know of it.</summary>
internal readonly record struct ProjectedEndpoint(EndpointAddress Endpoint, bool Ready, IList<V1ForZone>? ForZones, string AddressType);

/// <summary>
/// One EndpointSlice as the watch holds it, with its endpoints projected per (port, schemes) and cached, so that an
/// event that changes one slice of fifty rebuilds one slice's endpoints, and the others keep their instances.
/// </summary>
internal sealed class SliceEntry
{
    private KeyValuePair<string, ProjectedEndpoint[]>[] _cache = [];

    public SliceEntry(V1EndpointSlice slice)
    {
        Slice = slice;
        var ports = new List<string>(slice.Ports?.Count ?? 0);
        foreach (var port in slice.Ports ?? [])
        {
            ports.Add($"{port.Name}:{port.Port}/{port.Protocol}/{port.AppProtocol}");
        }

        PortSignature = string.Join(',', ports);
    }

    public V1EndpointSlice Slice { get; }

    /// <summary>The slice's ports (names, numbers, protocols): when it changes, the Service's ports probably did.</summary>
    public string PortSignature { get; }

    /// <summary>The slice's endpoints for <paramref name="port"/>, excluding those that are neither ready nor serving-and-terminating.</summary>
    public ProjectedEndpoint[] Project(string cacheKey, PortSelection port, IReadOnlyList<string> schemes)
    {
        foreach (var (key, value) in _cache)
        {
            if (key == cacheKey)
            {
                return value;
            }
        }

        var projected = EndpointSliceProjection.Project(Slice, port, schemes);
        _cache = [.. _cache, new(cacheKey, projected)];
        return projected;
    }
}

/// <summary>
/// Turns a Service's EndpointSlices into the endpoint list the mesh balances over. The rules, in order:
/// <list type="number">
/// <item>Addresses: <c>IPv4</c> and <c>IPv6</c> slices (not <c>FQDN</c>); a dual-stack Service's primary family
/// (its first <c>ipFamilies</c> entry) when it has endpoints. Each endpoint's first address, as the API advises.</item>
/// <item>Conditions: ready endpoints are used; serving-and-terminating ones only when none is ready (a rollout's or
/// scale-down's last replicas still answer); the rest are left out.</item>
/// <item>Topology: when our zone is known and every chosen endpoint carries hints, those hinted for our zone are used,
/// unless fewer than the minimum remain.</item>
/// </list>
/// </summary>
internal static class EndpointSliceProjection
{
    public const string NodeNameKey = "k8s.node.name";
    public const string PodNameKey = "k8s.pod.name";
    public const string NamespaceKey = "k8s.namespace.name";

    public static ProjectedEndpoint[] Project(V1EndpointSlice slice, PortSelection port, IReadOnlyList<string> schemes)
    {
        if (slice.AddressType is not ("IPv4" or "IPv6") || slice.Endpoints is not { Count: > 0 } endpoints
            || port.Match(slice.Ports) is not { } slicePort)
        {
            return [];
        }

        string scheme = PortSelection.SchemeFor(slicePort, schemes);
        var result = new List<ProjectedEndpoint>(endpoints.Count);
        foreach (var endpoint in endpoints)
        {
            if (endpoint.Addresses is not { Count: > 0 } addresses || string.IsNullOrEmpty(addresses[0]))
            {
                continue;
            }

            bool ready = endpoint.Conditions?.Ready ?? true;
            bool serving = endpoint.Conditions?.Serving ?? ready;
            bool terminating = endpoint.Conditions?.Terminating ?? false;
            if (!ready && !(serving && terminating))
            {
                continue;
            }

            EndpointAddress mesh;
            try
            {
                mesh = CreateAddress(scheme, addresses[0], slicePort.Port!.Value, endpoint.Zone, Metadata(endpoint));
            }
            catch (ArgumentException)
            {
                continue; // not an address the mesh can dial; the rest of the slice still counts
            }

            result.Add(new ProjectedEndpoint(mesh, ready, endpoint.Hints?.ForZones, slice.AddressType));
        }

        return [.. result];
    }

    /// <summary>Merges the slices' projections into the list to publish; see the type's remarks for the rules.</summary>
    public static List<EndpointAddress> Merge(IReadOnlyList<ProjectedEndpoint[]> slices, string? preferredFamily, string? zone, int minimumZoneEndpoints)
    {
        bool preferredPresent = false;
        bool anyReady = false;
        foreach (var slice in slices)
        {
            foreach (var endpoint in slice)
            {
                preferredPresent |= endpoint.AddressType == preferredFamily;
            }
        }

        string? family = preferredPresent ? preferredFamily : null;
        foreach (var slice in slices)
        {
            foreach (var endpoint in slice)
            {
                anyReady |= endpoint.Ready && (family is null || endpoint.AddressType == family);
            }
        }

        var chosen = new List<ProjectedEndpoint>();
        bool allHinted = true;
        int inZone = 0;
        foreach (var slice in slices)
        {
            foreach (var endpoint in slice)
            {
                if ((family is null || endpoint.AddressType == family) && endpoint.Ready == anyReady)
                {
                    chosen.Add(endpoint);
                    allHinted &= endpoint.ForZones is { Count: > 0 };
                    inZone += zone is not null && IsHintedFor(endpoint, zone) ? 1 : 0;
                }
            }
        }

        bool useHints = zone is not null && allHinted && inZone >= minimumZoneEndpoints;
        var seen = new HashSet<string>(chosen.Count, StringComparer.Ordinal);
        var result = new List<EndpointAddress>(useHints ? inZone : chosen.Count);
        foreach (var endpoint in chosen)
        {
            if ((!useHints || IsHintedFor(endpoint, zone!)) && seen.Add(endpoint.Endpoint.Key))
            {
                result.Add(endpoint.Endpoint);
            }
        }

        return result;
    }

    /// <summary>
    /// The one place this package builds a mesh address, through the core's strict address grammar: an address it rejects
    /// (not an IP literal or RFC 1123 name, a port out of range) throws <see cref="ArgumentException"/> and is skipped.
    /// </summary>
    internal static EndpointAddress CreateAddress(string scheme, string host, int port, string? zone, IReadOnlyDictionary<string, string>? metadata) =>
        new(scheme, host, port, zone: zone, metadata: metadata);

    private static bool IsHintedFor(ProjectedEndpoint endpoint, string zone)
    {
        if (endpoint.ForZones is { } zones)
        {
            foreach (var forZone in zones)
            {
                if (string.Equals(forZone.Name, zone, StringComparison.Ordinal))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static Dictionary<string, string>? Metadata(V1Endpoint endpoint)
    {
        Dictionary<string, string>? metadata = null;
        if (!string.IsNullOrEmpty(endpoint.NodeName))
        {
            (metadata ??= new(3, StringComparer.Ordinal))[NodeNameKey] = endpoint.NodeName;
        }

        if (endpoint.TargetRef is { Kind: "Pod" or null, Name: { Length: > 0 } pod } target)
        {
            (metadata ??= new(3, StringComparer.Ordinal))[PodNameKey] = pod;
            if (!string.IsNullOrEmpty(target.NamespaceProperty))
            {
                metadata[NamespaceKey] = target.NamespaceProperty;
            }
        }

        return metadata;
    }
}
