using Mesh.Client.Balancing;

namespace Mesh.Client;

/// <summary>
/// Per-request settings a caller puts in <see cref="HttpRequestMessage.Options"/> to steer the mesh for one request.
/// </summary>
/// <example>
/// <code>
/// var request = new HttpRequestMessage(HttpMethod.Get, "http://catalog/cart");
/// request.Options.Set(MeshRequestOptions.HashKey, userId); // same user, same replica
/// request.Options.Set(MeshRequestOptions.AllowRetry, true); // this POST is safe to repeat
/// </code>
/// </example>
public static class MeshRequestOptions
{
    /// <summary>
    /// <see langword="true"/>: the mesh may retry (and hedge) this request even though its method is not idempotent
    /// (a POST the caller knows is safe to repeat). <see langword="false"/>: never retry or hedge it, whatever its method.
    /// Absent: idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE, TRACE) may be retried, others not.
    /// </summary>
    public static readonly HttpRequestOptionsKey<bool> AllowRetry = new("Mesh.Client.AllowRetry");

    /// <summary>
    /// The key a consistent-hashing balancer (<see cref="BalancerNames.RingHash"/>, <see cref="BalancerNames.Maglev"/>)
    /// places this request by, instead of the service's <see cref="RequestHashPolicy"/> list: the request hash is
    /// XXH64 of its UTF-8 bytes. Ignored by other balancers.
    /// </summary>
    public static readonly HttpRequestOptionsKey<string> HashKey = new("Mesh.Client.HashKey");
}
