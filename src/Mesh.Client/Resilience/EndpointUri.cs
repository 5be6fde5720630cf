namespace Mesh.Client.Resilience;

/// <summary>Points a logical URI at an endpoint.</summary>
internal static class EndpointUri
{
    /// <summary>The endpoint's scheme and authority with the logical URI's path and query (already escaped).</summary>
    public static Uri Rewrite(Uri logicalUri, MeshEndpoint endpoint) =>
        new(string.Concat(endpoint.Scheme, Uri.SchemeDelimiter, endpoint.Authority, logicalUri.PathAndQuery), UriKind.Absolute);
}
