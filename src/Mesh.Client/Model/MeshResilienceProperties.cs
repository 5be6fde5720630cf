using Polly;

namespace Mesh.Client;

/// <summary>
/// The properties the mesh puts on each attempt's <see cref="ResilienceContext"/>, so strategies added to the
/// per-attempt pipeline (<c>MeshServiceOptions.AttemptPipeline</c>: a rate limiter or circuit breaker per
/// endpoint, for example) and Polly's telemetry know where the attempt goes.
/// </summary>
public static class MeshResilienceProperties
{
    /// <summary>The logical service name (<c>catalog</c>).</summary>
    public static readonly ResiliencePropertyKey<string> ServiceName = new("Mesh.Client.ServiceName");

    /// <summary>The endpoint the attempt is sent to.</summary>
    public static readonly ResiliencePropertyKey<EndpointAddress> Endpoint = new("Mesh.Client.Endpoint");
}
