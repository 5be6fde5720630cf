namespace Mesh.Client.Health;

/// <summary>
/// What the health components (<see cref="OutlierDetector"/>, <see cref="HeartbeatProber"/>) report to: the service
/// whose endpoints they judge. They change an endpoint's opinions themselves; the service republishes the routable set
/// and publishes the transition. Keeps Health/ free of the service that owns it.
/// </summary>
internal interface IHealthReporter
{
    /// <summary>The service's current members, to count how many are ejected.</summary>
    EndpointSet Endpoints { get; }

    /// <summary>An endpoint's availability changed: recompute the routable set and publish it.</summary>
    void OnHealthChanged();

    /// <summary>Publishes a transition (logs, metrics, observers). Called outside any lock.</summary>
    void Report(in HealthTransition transition);
}
