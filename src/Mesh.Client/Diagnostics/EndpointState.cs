using Mesh.Client.Health;

namespace Mesh.Client.Diagnostics;

/// <summary>An endpoint's state as diagnostics report it: one word per endpoint, derived from its two health opinions.</summary>
public enum EndpointState
{
    /// <summary>Neither opinion says unhealthy: the endpoint takes traffic.</summary>
    Available = 0,

    /// <summary>
    /// Passive health (outlier detection on real traffic) ejected it. Takes no traffic unless the service is in panic.
    /// Reported as ejected even when heartbeats also fail; the snapshot carries both opinions.
    /// </summary>
    Ejected = 1,

    /// <summary>Active health (heartbeats) says unhealthy. Takes no traffic unless the service is in panic.</summary>
    Unhealthy = 2,
}

/// <summary>Maps health opinions to <see cref="EndpointState"/> and states to their metric tag values.</summary>
internal static class EndpointStates
{
    private static readonly string[] s_tagValues = ["available", "ejected", "unhealthy"];

    public static EndpointState Of(EndpointHealth health) =>
        health.Passive == HealthOpinion.Unhealthy ? EndpointState.Ejected
        : health.Active == HealthOpinion.Unhealthy ? EndpointState.Unhealthy
        : EndpointState.Available;

    public static string TagValue(EndpointState state) => s_tagValues[(int)state];
}
