using Mesh.Client.Routing;

namespace Mesh.Client.Tests.Infrastructure;

/// <summary>Bridges tests that build live endpoint records to the service state, which takes addresses and keeps its own records.</summary>
internal static class TestEndpoints
{
    /// <summary>A live record of <paramref name="address"/>, for balancer tests that build endpoint sets directly.</summary>
    public static MeshEndpoint Live(this EndpointAddress address) => new(address);

    /// <summary>Publishes the addresses of <paramref name="endpoints"/>; the state maps them onto its own records.</summary>
    public static void OnEndpoints(this ServiceState state, IEnumerable<MeshEndpoint> endpoints) =>
        state.OnEndpoints(endpoints.Select(e => e.Address).ToArray());

    /// <summary>The state's own record of <paramref name="endpoint"/>'s address.</summary>
    public static MeshEndpoint RecordOf(this ServiceState state, MeshEndpoint endpoint) =>
        state.Endpoints.Find(endpoint.Key) ?? throw new InvalidOperationException($"{endpoint} is not a member.");
}
