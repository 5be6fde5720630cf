namespace Mesh.Client.Resilience;

/// <summary>Points a logical URI at an endpoint.</summary>
/// <remarks>
/// The rewritten <see cref="Uri"/> (and the string it is built from) is most of what the mesh allocates per request,
/// and RPC-style traffic sends the same few paths to the same few endpoints again and again (a gRPC method is one path).
/// Each endpoint keeps the URIs it was sent to, keyed by the caller's URI as written, so a repeated request reuses an
/// immutable <see cref="Uri"/>. The cache is bounded: once it holds <see cref="CacheCapacity"/> URIs, other ones are
/// built per request and not kept, so paths that are all different (an id in each) cost what they did, plus a lookup.
/// </remarks>
internal static class EndpointUri
{
    /// <summary>The most URIs an endpoint keeps.</summary>
    internal const int CacheCapacity = MeshEndpoint.RewrittenUriCapacity;

    /// <summary>The endpoint's scheme and authority with the logical URI's path and query (already escaped).</summary>
    public static Uri Rewrite(Uri logicalUri, MeshEndpoint endpoint)
    {
        var cache = endpoint.RewrittenUris;
        string key = logicalUri.OriginalString;
        if (cache.TryGet(key, out var cached))
        {
            return cached;
        }

        var uri = new Uri(string.Concat(endpoint.Scheme, Uri.SchemeDelimiter, endpoint.Authority, logicalUri.PathAndQuery), UriKind.Absolute);
        cache.TryAdd(key, uri);
        return uri;
    }
}
