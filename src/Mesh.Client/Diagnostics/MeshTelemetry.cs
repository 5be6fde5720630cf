namespace Mesh.Client.Diagnostics;

/// <summary>
/// The names under which the mesh publishes telemetry, for wiring an exporter:
/// <c>metrics.AddMeter(MeshTelemetry.MeterName)</c>, <c>tracing.AddSource(MeshTelemetry.ActivitySourceName)</c>.
/// </summary>
public static class MeshTelemetry
{
    /// <summary>The <see cref="System.Diagnostics.Metrics.Meter"/> every mesh instrument belongs to: <c>Mesh.Client</c>.</summary>
    public const string MeterName = "Mesh.Client";

    /// <summary>
    /// The <see cref="System.Diagnostics.ActivitySource"/> of the mesh's background work (resolver updates, heartbeats):
    /// <c>Mesh.Client</c>. Requests are not given spans of their own; the mesh tags the current activity instead.
    /// </summary>
    public const string ActivitySourceName = "Mesh.Client";
}
