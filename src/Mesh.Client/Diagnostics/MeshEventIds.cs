namespace Mesh.Client.Diagnostics;

/// <summary>
/// Every event id the mesh logs with, in one place so that no two events share one. docs/telemetry.md lists them.
/// Ids are stable: a new event takes a new number, a retired one is never reused.
/// </summary>
internal static class MeshEventIds
{
    // Discovery: 1-19.
    public const int EndpointsUpdated = 1;
    public const int ResolverFailed = 2;
    public const int ResolverRecovered = 3;

    // Health and panic: 20-39.
    public const int EndpointEjected = 20;
    public const int EndpointReadmitted = 21;
    public const int EndpointUnhealthy = 22;
    public const int EndpointHealthy = 23;
    public const int PanicEntered = 24;
    public const int PanicLeft = 25;

    // Resilience: 40-59.
    public const int RetryBudgetExhausted = 40;
}
