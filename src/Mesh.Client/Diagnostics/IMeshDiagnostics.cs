namespace Mesh.Client.Diagnostics;

/// <summary>
/// A read-only view of what the mesh knows now: every service every client has used, with its endpoints, their
/// health, load and latency estimate. Registered by <c>AddMeshClient()</c>; the diagnostics page is built on it.
/// </summary>
/// <remarks>
/// Taking a snapshot reads each service's current endpoint set and each endpoint's counters without locks; it
/// allocates the snapshot and nothing else, and never slows a request. Values of different endpoints are read one
/// after the other, not at one instant.
/// </remarks>
public interface IMeshDiagnostics
{
    /// <summary>Takes a snapshot of every service.</summary>
    MeshSnapshot GetSnapshot();
}
