namespace WebSdkConsumer;

/// <summary>
/// Every public Mesh.Client type, written by its simple name as an application with the Web SDK's implicit usings and
/// the Mesh.Client namespaces in scope writes it. If one of these names also exists in an imported namespace, this
/// file does not compile (CS0104, ambiguous reference).
/// </summary>
internal static class PublicNames
{
    /// <summary>Every public options type (and the enums and keys options take).</summary>
    public static readonly Type[] Options =
    [
        typeof(MeshClientOptions),
        typeof(MeshServiceOptions),
        typeof(MeshRequestOptions),
        typeof(MeshResilienceProperties),
        typeof(PeakEwmaOptions),
        typeof(LeastRequestOptions),
        typeof(RingHashOptions),
        typeof(MaglevOptions),
        typeof(PassiveHealthOptions),
        typeof(ActiveHealthCheckOptions),
        typeof(PanicOptions),
        typeof(PanicMode),
        typeof(SlowStartOptions),
        typeof(RetryOptions),
        typeof(HedgingOptions),
        typeof(TimeoutOptions),
        typeof(MeshRoute),
        typeof(MeshRouteMatch),
        typeof(RoutePathMatch),
        typeof(RoutePathMatchType),
        typeof(RouteValueMatch),
        typeof(RouteValueMatchType),
        typeof(MeshRouteBackend),
        typeof(MeshRouteRetry),
        typeof(RequestHashPolicy),
        typeof(RequestHashSource),
        typeof(HostHeaderPolicy),
        typeof(DnsResolverOptions),
        typeof(DnsServiceOptions),
        typeof(DnsAddressFamily),
        typeof(KubernetesResolverOptions),
        typeof(KubernetesCredentialSource),
    ];

    /// <summary>Every other public type.</summary>
    public static readonly Type[] Others =
    [
        typeof(IMeshClientBuilder),
        typeof(MeshClientServiceCollectionExtensions),
        typeof(MeshHttpClientBuilderExtensions),
        typeof(DnsMeshClientBuilderExtensions),
        typeof(KubernetesMeshClientBuilderExtensions),
        typeof(MeshDiagnosticsEndpointRouteBuilderExtensions),
        typeof(MeshException),
        typeof(UnknownServiceException),
        typeof(NoEndpointsException),
        typeof(ResolutionTimeoutException),
        typeof(ServiceNotFoundException),
        typeof(IEndpointResolver),
        typeof(IEndpointObserver),
        typeof(IMeshRouteSource),
        typeof(IMeshRouteObserver),
        typeof(EndpointQuery),
        typeof(EndpointAddress),
        typeof(EndpointSet),
        typeof(MeshEndpoint),
        typeof(HealthOpinion),
        typeof(ILoadBalancerFactory),
        typeof(LoadBalancerContext),
        typeof(ILoadBalancer),
        typeof(PickContext),
        typeof(BalancerNames),
        typeof(IMeshDiagnostics),
        typeof(MeshSnapshot),
        typeof(ServiceSnapshot),
        typeof(EndpointSnapshot),
        typeof(RouteSnapshot),
        typeof(RouteBackendSnapshot),
        typeof(TrafficBucket),
        typeof(EndpointState),
        typeof(MeshTelemetry),
    ];
}
