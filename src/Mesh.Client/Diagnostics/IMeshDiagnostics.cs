namespace Mesh.Client.Diagnostics;

/// <summary>
/// A read-only view of what the mesh knows now: every service every client has used, with its endpoints, their
/// health, load and latency estimate. Registered by <c>AddMeshClient()</c>; the diagnostics page is built on it.
/// </summary>
/// <remarks>
/// Taking a snapshot reads each service's current endpoint set and each endpoint's counters without locks; it
/// allocates the snapshot and nothing else, and never slows a request. Values of different endpoints are read one
/// after the other, not at one instant.
/// <para>
/// The traffic series (<see cref="EndpointSnapshot.Traffic"/>, a route backend's <c>Traffic</c>) are recorded from the
/// moment this service is first resolved from the container (<c>MapMeshDiagnostics</c> resolves it at start-up), so a
/// process that never asks for diagnostics keeps no history: about 5 KB per endpoint that takes traffic, and a clock read
/// per attempt.
/// </para>
/// </remarks>
public interface IMeshDiagnostics
{
    /// <summary>Takes a snapshot of every service.</summary>
    MeshSnapshot GetSnapshot();
}
