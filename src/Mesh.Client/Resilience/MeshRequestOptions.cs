namespace Mesh.Client;

/// <summary>
/// Per-request switches for the mesh, set on <see cref="HttpRequestMessage.Options"/>:
/// <code>request.Options.Set(MeshRequestOptions.AllowRetry, true);</code>
/// </summary>
public static class MeshRequestOptions
{
    /// <summary>
    /// <see langword="true"/>: the mesh may retry (and hedge) this request even though its method is not idempotent
    /// (a POST the caller knows is safe to repeat). <see langword="false"/>: never retry or hedge it, whatever its method.
    /// Absent: idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE, TRACE) may be retried, others not.
    /// </summary>
    public static readonly HttpRequestOptionsKey<bool> AllowRetry = new("Mesh.Client.AllowRetry");
}
