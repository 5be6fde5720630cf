namespace Mesh.Client.Health;

/// <summary>
/// The health of one endpoint as two independent opinions, as YARP keeps them: <see cref="Passive"/> (from real
/// traffic) and <see cref="Active"/> (from heartbeats). An endpoint is available unless either says unhealthy.
/// </summary>
/// <remarks>
/// Opinions change only off the request path's pick (when an attempt completes, when a probe returns, when a timer
/// fires); the service then publishes a new routable set, so a pick never evaluates health.
/// </remarks>
public sealed class EndpointHealth
{
    private int _passive;
    private int _active;

    /// <summary>The opinion formed from real traffic (failure accounting and outlier ejection).</summary>
    public HealthOpinion Passive => (HealthOpinion)Volatile.Read(ref _passive);

    /// <summary>The opinion formed from background heartbeats.</summary>
    public HealthOpinion Active => (HealthOpinion)Volatile.Read(ref _active);

    /// <summary>Whether the endpoint may receive traffic: neither opinion says unhealthy.</summary>
    public bool IsAvailable => Passive != HealthOpinion.Unhealthy && Active != HealthOpinion.Unhealthy;

    /// <summary>Sets the passive opinion; returns whether it changed.</summary>
    internal bool SetPassive(HealthOpinion opinion) => Interlocked.Exchange(ref _passive, (int)opinion) != (int)opinion;

    /// <summary>Sets the active opinion; returns whether it changed.</summary>
    internal bool SetActive(HealthOpinion opinion) => Interlocked.Exchange(ref _active, (int)opinion) != (int)opinion;
}
