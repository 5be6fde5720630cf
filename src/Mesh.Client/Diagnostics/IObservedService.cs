namespace Mesh.Client.Diagnostics;

/// <summary>
/// What the mesh's observable gauges read of one service: its telemetry tags, its endpoints and its panic state. The
/// service state implements it, so Diagnostics/ observes services without depending on the code that routes to them.
/// </summary>
internal interface IObservedService
{
    ServiceTelemetry Telemetry { get; }

    EndpointSet Endpoints { get; }

    bool IsResolved { get; }

    bool IsBelowPanicThreshold { get; }
}
