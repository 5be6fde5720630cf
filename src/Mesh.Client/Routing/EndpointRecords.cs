namespace Mesh.Client.Routing;

/// <summary>Maps a resolver's addresses onto a client's endpoint records, keeping the record of every address it already had.</summary>
internal static class EndpointRecords
{
    /// <summary>
    /// The records for <paramref name="addresses"/>, in the resolver's order, each address once: the record
    /// <paramref name="previous"/> has for the same key (redescribed in place when its weight, priority, zone, labels or
    /// hash key changed), or a new one (passed to <paramref name="onCreated"/>). <paramref name="changed"/> says whether
    /// the result differs from <paramref name="previous"/> in membership, order or description.
    /// </summary>
    public static List<MeshEndpoint> Merge(EndpointSet previous, IReadOnlyList<EndpointAddress> addresses, Action<MeshEndpoint> onCreated,
        out bool changed)
    {
        var byKey = new Dictionary<string, MeshEndpoint>(previous.Count, StringComparer.Ordinal);
        foreach (var endpoint in previous.Endpoints)
        {
            byKey[endpoint.Key] = endpoint;
        }

        var seen = new HashSet<string>(addresses.Count, StringComparer.Ordinal);
        var next = new List<MeshEndpoint>(addresses.Count);
        changed = false;
        foreach (var address in addresses)
        {
            ArgumentNullException.ThrowIfNull(address);
            if (!seen.Add(address.Key))
            {
                continue;
            }

            if (byKey.TryGetValue(address.Key, out var existing))
            {
                if (!existing.Address.Equals(address))
                {
                    existing.Redescribe(address);
                    changed = true;
                }

                changed |= next.Count >= previous.Count || !ReferenceEquals(previous[next.Count], existing);
                next.Add(existing);
            }
            else
            {
                var created = new MeshEndpoint(address);
                onCreated(created);
                next.Add(created);
                changed = true;
            }
        }

        changed |= next.Count != previous.Count;
        return next;
    }
}
