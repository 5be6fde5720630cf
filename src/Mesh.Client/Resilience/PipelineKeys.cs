using Polly;

namespace Mesh.Client.Resilience;

/// <summary>The mesh's own properties on a <see cref="ResilienceContext"/>, beside the public <see cref="MeshResilienceProperties"/>.</summary>
internal static class PipelineKeys
{
    /// <summary>The request's attempts; the same object on every attempt's context (hedges copy the reference).</summary>
    public static readonly ResiliencePropertyKey<RequestAttempts> Attempts = new("Mesh.Client.Attempts");

    /// <summary>The message a hedge sends (its clone); absent for the caller's own message.</summary>
    public static readonly ResiliencePropertyKey<HttpRequestMessage?> Message = new("Mesh.Client.Message");

    /// <summary>The endpoint a hedge was launched for.</summary>
    public static readonly ResiliencePropertyKey<MeshEndpoint?> Planned = new("Mesh.Client.Planned");

    /// <summary>Whether the attempt reached the next handler (a per-attempt strategy may refuse it before).</summary>
    public static readonly ResiliencePropertyKey<bool> Sent = new("Mesh.Client.Sent");
}
