namespace Mesh.Client;

/// <summary>What changed in a service's health.</summary>
internal enum HealthTransitionKind
{
    /// <summary>Passive accounting ejected an endpoint (<see cref="HealthTransition.Duration"/> says for how long).</summary>
    Ejected,

    /// <summary>An ejection ended; the endpoint is routable again and its next outcome decides.</summary>
    EjectionEnded,

    /// <summary>A probe (the first outcome after an ejection, or a successful heartbeat) re-admitted the endpoint.</summary>
    Readmitted,

    /// <summary>An endpoint met the ejection rule, but the service already had as many ejected as it may.</summary>
    EjectionSkipped,

    /// <summary>Heartbeats marked an endpoint unhealthy.</summary>
    ActiveUnhealthy,

    /// <summary>Heartbeats marked an endpoint healthy (first success, or recovery).</summary>
    ActiveHealthy,

    /// <summary>Fewer members than the panic threshold are available.</summary>
    PanicEntered,

    /// <summary>Enough members are available again.</summary>
    PanicExited,
}

/// <summary>One health transition of a service, published once when it happens.</summary>
/// <param name="ServiceName">The service.</param>
/// <param name="Kind">What changed.</param>
/// <param name="Endpoint">The endpoint, or <see langword="null"/> for a service-wide transition (panic).</param>
/// <param name="Reason">Why, in words (the rule that fired, the probe's result).</param>
/// <param name="Duration">For an ejection, how long it lasts.</param>
/// <param name="TimesEjected">For an ejection, how many times in a row the endpoint has been ejected.</param>
/// <param name="Available">Members available after the transition.</param>
/// <param name="Members">Members of the service.</param>
internal readonly record struct HealthTransition(string ServiceName, HealthTransitionKind Kind, MeshEndpoint? Endpoint, string Reason,
    TimeSpan Duration = default, int TimesEjected = 0, int Available = 0, int Members = 0);

