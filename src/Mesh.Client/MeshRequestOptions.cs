using Mesh.Client.Balancing;

namespace Mesh.Client;

/// <summary>
/// Per-request settings a caller puts in <see cref="HttpRequestMessage.Options"/> to steer the mesh for one request.
/// </summary>
/// <example>
/// <code>
/// var request = new HttpRequestMessage(HttpMethod.Get, "http://catalog/cart");
/// request.Options.Set(MeshRequestOptions.HashKey, userId); // same user, same replica
/// </code>
/// </example>
public static partial class MeshRequestOptions
{
    /// <summary>
    /// The key a consistent-hashing balancer (<see cref="BalancerKind.RingHash"/>, <see cref="BalancerKind.Maglev"/>)
    /// places this request by, instead of the service's <see cref="RequestHashPolicy"/> list: the request hash is
    /// XXH64 of its UTF-8 bytes. Ignored by other balancers.
    /// </summary>
    public static readonly HttpRequestOptionsKey<string> HashKey = new("Mesh.Client.HashKey");
}
