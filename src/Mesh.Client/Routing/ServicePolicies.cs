using Mesh.Client.Balancing;
using Mesh.Client.Health;
using Mesh.Client.Resilience;
using Mesh.Client.Routing.Routes;

namespace Mesh.Client.Routing;

/// <summary>
/// Everything a service's options decide, built from one <see cref="MeshServiceOptions"/>: the balancer, the request
/// hasher, passive and active health, slow start, the retry budget, the latency history and the resilience pipeline.
/// Immutable; a service swaps it whole when its options reload, and a request reads it once, so it finishes under the
/// rules it started with.
/// </summary>
/// <remarks>
/// A reload keeps the parts whose options did not change (an outlier detector with its ejections, heartbeats with their
/// schedule, a budget with its balance), so changing one setting does not reset the others. Endpoint records (load,
/// health) belong to the service, not to its policies, and survive every reload.
/// </remarks>
internal sealed class ServicePolicies : IDisposable
{
    public ServicePolicies(MeshServiceOptions options, ILoadBalancer balancer, OutlierDetector? detector, HeartbeatProber? prober,
        SlowStartCurve? slowStart, RetryBudget retryBudget, LatencyHistogram? latency, ServicePipeline pipeline, RouteTable? routes)
    {
        Options = options;
        Balancer = balancer;
        RequestHasher = RequestHasher.For(options);
        FailureStatuses = pipeline.FailureStatuses; // the same rules the pipeline applies
        Detector = detector;
        Prober = prober;
        SlowStart = slowStart;
        RetryBudget = retryBudget;
        Latency = latency;
        Pipeline = pipeline;
        Routes = routes;
    }

    private ServicePolicies(ServicePolicies basePolicies, MeshServiceOptions options, ServicePipeline pipeline, RouteTable? routes)
    {
        Options = options;
        Balancer = basePolicies.Balancer;
        RequestHasher = basePolicies.RequestHasher;
        FailureStatuses = pipeline.FailureStatuses;
        Detector = basePolicies.Detector;
        Prober = basePolicies.Prober;
        SlowStart = basePolicies.SlowStart;
        RetryBudget = basePolicies.RetryBudget;
        Latency = basePolicies.Latency;
        Pipeline = pipeline;
        Routes = routes;
    }

    /// <summary>These policies with <paramref name="routes"/> (a route source's new list); every other part is shared.</summary>
    public ServicePolicies WithRoutes(RouteTable? routes)
    {
        RouteBackend.CarryOver(routes, Routes);
        return new(this, Options, Pipeline, routes);
    }

    /// <summary>
    /// The policies of <paramref name="basePolicies"/>' service for requests through a route: the same balancer, health,
    /// budget and latency history (never disposed through this object), and a pipeline built from
    /// <paramref name="options"/> (the route's timeout and retry overrides) reporting to <paramref name="host"/>.
    /// </summary>
    public static ServicePolicies ForRoute(ServiceState service, ServicePolicies basePolicies, MeshServiceOptions options, IAttemptHost host) =>
        new(basePolicies, options, new ServicePipeline(host, options, service.ClientName, service.TimeProvider, service.LoggerFactory),
            routes: null); // a backend reached through a route is not routed again

    /// <summary>
    /// Builds the policies for <paramref name="options"/>, reusing the parts of <paramref name="previous"/> whose options
    /// did not change, so a reload of one setting keeps the others' state (ejections, heartbeat schedule, budget).
    /// </summary>
    public static ServicePolicies Build(ServiceState service, MeshServiceOptions options, Func<ILoadBalancer> createBalancer, ServicePolicies? previous)
    {
        var old = previous?.Options;
        var balancer = old is not null && SameBalancer(old, options) ? previous!.Balancer : createBalancer();
        var slowStart = old is not null && OptionsComparer.Same(old.SlowStart, options.SlowStart) ? previous!.SlowStart : options.SlowStart.ToCurve();
        var detector = old is not null && OptionsComparer.Same(old.PassiveHealth, options.PassiveHealth) && ReferenceEquals(slowStart, previous!.SlowStart)
            ? previous!.Detector
            : options.PassiveHealth.Enabled ? new OutlierDetector(service.ServiceName, service, options.PassiveHealth, service.TimeProvider, service.Random, slowStart) : null;
        HeartbeatProber? prober;
        if (old is not null && OptionsComparer.Same(old.HealthCheck, options.HealthCheck) && old.HostHeader == options.HostHeader
            && ReferenceEquals(detector, previous!.Detector) && ReferenceEquals(slowStart, previous.SlowStart))
        {
            prober = previous.Prober;
        }
        else
        {
            prober = options.HealthCheck.Enabled
                ? new HeartbeatProber(service.ServiceName, service, options.HealthCheck, options.HostHeader == HostHeaderPolicy.LogicalName,
                    service.Telemetry, detector, service.TimeProvider, service.ProbeHandlerFactory(), service.Random, slowStart)
                : null;
        }

        var retry = options.Retry;
        var budget = old is not null && old.Retry.BudgetPercent == retry.BudgetPercent && old.Retry.MinRetriesPerSecond == retry.MinRetriesPerSecond
            && old.Retry.BudgetTtl == retry.BudgetTtl
            ? previous!.RetryBudget
            : new RetryBudget(retry.BudgetPercent, retry.MinRetriesPerSecond, retry.BudgetTtl, service.TimeProvider);
        var latency = options.Hedging is { Enabled: true, DelayPercentile: not null }
            ? previous?.Latency ?? new LatencyHistogram(service.TimeProvider)
            : null;
        var pipeline = new ServicePipeline(service, options, service.ClientName, service.TimeProvider, service.LoggerFactory);
        // The options' own routes take precedence over a route source's (configuration is the operator's override).
        var routes = options.Routes.Count > 0 ? RouteTable.Build(options) : RouteTable.Build(service.DiscoveredRoutes, options);
        RouteBackend.CarryOver(routes, previous?.Routes);
        return new ServicePolicies(options, balancer, detector, prober, slowStart, budget, latency, pipeline, routes);
    }

    /// <summary>Whether <paramref name="next"/> selects the same balancer with the same settings, so it keeps its state.</summary>
    private static bool SameBalancer(MeshServiceOptions previous, MeshServiceOptions next) =>
        string.Equals(previous.Balancer, next.Balancer, StringComparison.OrdinalIgnoreCase) && previous.BalanceFactor == next.BalanceFactor
        && OptionsComparer.Same(previous.PeakEwma, next.PeakEwma) && OptionsComparer.Same(previous.LeastRequest, next.LeastRequest)
        && OptionsComparer.Same(previous.RingHash, next.RingHash) && OptionsComparer.Same(previous.Maglev, next.Maglev);

    public MeshServiceOptions Options { get; }

    public ILoadBalancer Balancer { get; }

    /// <summary>Computes request hashes; <see langword="null"/> unless the balancer picks by hash or hash policies are set.</summary>
    public RequestHasher? RequestHasher { get; }

    /// <summary>Which statuses count against an endpoint.</summary>
    public FailureStatusSet FailureStatuses { get; }

    /// <summary>Passive failure accounting, or null when <see cref="PassiveHealthOptions.Enabled"/> is off.</summary>
    public OutlierDetector? Detector { get; }

    /// <summary>Heartbeats, or null when no <see cref="ActiveHealthCheckOptions.Path"/> or gRPC service is set.</summary>
    public HeartbeatProber? Prober { get; }

    /// <summary>The slow-start ramp new and re-admitted endpoints take, or null when slow start is off.</summary>
    public SlowStartCurve? SlowStart { get; }

    /// <summary>The budget every request deposits into and every retry or hedge withdraws from.</summary>
    public RetryBudget RetryBudget { get; }

    /// <summary>Recent attempt latencies, kept only when hedging waits for a percentile.</summary>
    public LatencyHistogram? Latency { get; }

    /// <summary>The service's routes, or null when it has none.</summary>
    public RouteTable? Routes { get; }

    /// <summary>Retries, hedging and timeouts.</summary>
    public ServicePipeline Pipeline { get; }

    /// <summary>Disposes the parts <paramref name="next"/> does not reuse (all of them when it is null).</summary>
    public void DisposeExcept(ServicePolicies? next)
    {
        if (!ReferenceEquals(Balancer, next?.Balancer))
        {
            (Balancer as IDisposable)?.Dispose();
        }

        if (!ReferenceEquals(Prober, next?.Prober))
        {
            Prober?.Dispose();
        }

        if (!ReferenceEquals(Detector, next?.Detector))
        {
            Detector?.Dispose();
        }
    }

    /// <inheritdoc />
    public void Dispose() => DisposeExcept(null);
}
