namespace Mesh.Client;

/// <summary>What one source of health information (passive accounting, active heartbeats) thinks of an endpoint.</summary>
public enum HealthOpinion
{
    /// <summary>No opinion yet: the source has not seen enough, or is not enabled. Counts as available.</summary>
    Unknown = 0,

    /// <summary>The source saw the endpoint work.</summary>
    Healthy = 1,

    /// <summary>The source saw the endpoint fail; it receives no traffic unless the service is in panic.</summary>
    Unhealthy = 2,
}
