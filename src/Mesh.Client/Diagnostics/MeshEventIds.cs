namespace Mesh.Client.Diagnostics;

/// <summary>
/// Every event id the mesh logs with, in one place so that no two events share one. docs/telemetry.md lists them.
/// Ids are stable: a new event takes a new number in its area's range, a retired one is never reused.
/// </summary>
/// <remarks>
/// Ranges: 1-9 service state (discovery updates), 10-19 service registry, 20-39 DNS resolver, 100-119 health,
/// 120-139 resilience, 200-219 Kubernetes resolver (in Mesh.Client.Kubernetes, which keeps its own constants in
/// that range).
/// </remarks>
internal static class MeshEventIds
{
    // Service state: 1-9.
    public const int EndpointsUpdated = 1;
    public const int ResolverFailed = 2;
    public const int ResolverRecovered = 3;
    public const int RoutesUpdated = 4;
    public const int RouteSourceFailed = 5;
    public const int RouteFieldIgnored = 6;
    public const int RoutesShadowed = 7;

    // Service registry: 10-19.
    public const int ServicesForgotten = 10;
    public const int OptionsReloaded = 11;
    public const int OptionsReloadRejected = 12;
    public const int ClientOptionsReloadRejected = 13;
    public const int MeshOptionsReloadRejected = 14;

    // DNS resolver: 20-39.
    public const int DnsResolved = 20;
    public const int DnsLookupFailed = 21;
    public const int DnsEarlyRefresh = 22;
    public const int DnsObserverFailed = 23;
    public const int DnsRecordSkipped = 24;

    // Health: 100-119.
    public const int EndpointEjected = 100;
    public const int EjectionEnded = 101;
    public const int EndpointReadmitted = 102;
    public const int EjectionSkipped = 103;
    public const int EndpointUnhealthy = 104;
    public const int EndpointHealthy = 105;
    public const int PanicEntered = 106;
    public const int PanicLeft = 107;

    // Resilience: 120-139.
    public const int RetryBudgetExhausted = 120;

    // Kubernetes resolver: 200-219 (Mesh.Client.Kubernetes, KubernetesLog).
    public const int KubernetesFirst = 200;
    public const int KubernetesLast = 219;
}
