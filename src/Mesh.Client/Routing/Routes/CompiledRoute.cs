using Mesh.Client.Resilience;

namespace Mesh.Client.Routing.Routes;

/// <summary>One route, compiled: its name, its weighted backends and whether the split is sticky.</summary>
internal sealed class CompiledRoute
{
    public CompiledRoute(MeshRoute source)
    {
        Source = source;
        Name = source.Name!;
        Backends = source.Backends.Select(b => new RouteBackend(b.Service!, b.Weight)).ToArray();
    }

    public MeshRoute Source { get; }

    public string Name { get; }

    public RouteBackend[] Backends { get; }

    /// <summary>
    /// Picks a backend by weight among those with a routable endpoint (a backend with none takes no share: its weight
    /// moves to the others, as Envoy does for weighted clusters); when every backend is empty, by the configured weights,
    /// and the request then waits or fails there as it would without a route. With <paramref name="hash"/> (a sticky
    /// split), the same hash lands on the same backend while the weights stay; otherwise at random.
    /// </summary>
    public RouteBackend Pick(ClientServices services, string scheme, ulong? hash)
    {
        var backends = Backends;
        if (backends.Length == 1)
        {
            return backends[0].Resolve(services, scheme).MarkUsed();
        }

        long total = 0;
        long configured = 0;
        foreach (var backend in backends)
        {
            configured += backend.Weight;
            if (backend.Resolve(services, scheme).HasRoutableEndpoint)
            {
                total += backend.Weight;
            }
        }

        bool byAvailable = total > 0;
        return PickByWeight(backends, byAvailable ? total : configured, byAvailable, hash).MarkUsed();
    }

    /// <summary>Walks the cumulative weights to the point <paramref name="hash"/> (or a random number) falls on.</summary>
    private static RouteBackend PickByWeight(RouteBackend[] backends, long total, bool availableOnly, ulong? hash)
    {
        long point = hash is { } h ? (long)Math.BigMul(h, (ulong)total, out _) : Random.Shared.NextInt64(total);
        RouteBackend? last = null;
        foreach (var backend in backends)
        {
            if (backend.Weight == 0 || (availableOnly && !backend.HasRoutableEndpoint))
            {
                continue;
            }

            last = backend;
            point -= backend.Weight;
            if (point < 0)
            {
                return backend;
            }
        }

        return last!;
    }
}

/// <summary>
/// One backend of a route: a mesh service of the same client (its own resolver, balancer and health), its weight, and
/// the policies requests through this route use there.
/// </summary>
internal sealed class RouteBackend
{
    private ServiceState? _state;
    private Overlay? _overlay;
    private TrafficRecorder? _traffic;
    private long _requests;

    public RouteBackend(string service, int weight)
    {
        Service = service;
        Weight = weight;
    }

    public string Service { get; }

    public int Weight { get; }

    /// <summary>The backend's service state, as last resolved by <see cref="Resolve"/>.</summary>
    public ServiceState State => _state!;

    /// <summary>Whether the backend's service has an endpoint to send to now.</summary>
    public bool HasRoutableEndpoint => _state is { IsResolved: true } state && !state.Endpoints.Routable.IsEmpty;

    /// <summary>
    /// The backend's service state in this client: cached, looked up again only when the cached one was forgotten (idle)
    /// or disposed (a backend not picked for a whole idle timeout may be), created on first use. Throws <see cref="UnknownServiceException"/> when no resolver knows it.
    /// </summary>
    public RouteBackend Resolve(ClientServices services, string scheme)
    {
        var state = Volatile.Read(ref _state);
        if (state is not null && !state.IsDisposed)
        {
            return this;
        }

        var key = new RouteKey(scheme, Service);
        if (!services.TryGet(key, out state))
        {
            state = services.GetOrCreate(key, out var asked) ?? throw new UnknownServiceException(Service, asked);
        }

        Volatile.Write(ref _state, state);
        return this;
    }

    /// <summary>Requests this route sent to the backend since its split last changed (see <see cref="CarryOver"/>): the observed share in diagnostics.</summary>
    public long Requests => Volatile.Read(ref _requests);

    /// <summary>Recent attempts through this route on the backend, for the diagnostics charts; created on the first.</summary>
    public TrafficRecorder Traffic => Volatile.Read(ref _traffic) ?? CreateTraffic();

    /// <summary><see cref="Traffic"/> if an attempt created it; null before.</summary>
    public TrafficRecorder? TrafficIfAny => Volatile.Read(ref _traffic);

    /// <summary>
    /// Marks the chosen backend's service used (only the chosen one: one clock read per request), for the idle sweep,
    /// and counts the request for the backend's observed share.
    /// </summary>
    public RouteBackend MarkUsed()
    {
        _state!.MarkUsed();
        Interlocked.Increment(ref _requests);
        return this;
    }

    private TrafficRecorder CreateTraffic()
    {
        Interlocked.CompareExchange(ref _traffic, new TrafficRecorder(), null);
        return _traffic!;
    }

    /// <summary>
    /// Hands what diagnostics show from <paramref name="previous"/>' routes to <paramref name="next"/>'s, for the
    /// backends of a route of the same name that name the same service: the traffic series always, so an operator
    /// stepping a canary's weights keeps watching one chart; the request counts only while the route's backends and
    /// weights stay the same, since the observed share is compared with the configured one.
    /// </summary>
    public static void CarryOver(RouteTable? next, RouteTable? previous)
    {
        if (next is null || previous is null)
        {
            return;
        }

        foreach (var route in next.Routes)
        {
            var before = previous.Routes.FirstOrDefault(r => string.Equals(r.Name, route.Name, StringComparison.Ordinal));
            if (before is null)
            {
                continue;
            }

            bool sameSplit = route.Backends.Select(b => (b.Service, b.Weight)).SequenceEqual(before.Backends.Select(b => (b.Service, b.Weight)));
            foreach (var backend in route.Backends)
            {
                if (Array.Find(before.Backends, b => string.Equals(b.Service, backend.Service, StringComparison.OrdinalIgnoreCase)) is { } old)
                {
                    backend._traffic = old.TrafficIfAny;
                    backend._requests = sameSplit ? old.Requests : 0;
                }
            }
        }
    }

    /// <summary>
    /// The policies requests through <paramref name="route"/> use on this backend: the backend service's own, with the
    /// route's timeout and retry overrides, and an attempt host that tags the route; rebuilt when the service's policies
    /// reload. Shares the service's balancer, health and retry budget.
    /// </summary>
    public (ServicePolicies Policies, IAttemptHost Host) PoliciesFor(ServiceState state, CompiledRoute route)
    {
        var basePolicies = state.Policies;
        var overlay = Volatile.Read(ref _overlay);
        if (overlay is null || !ReferenceEquals(overlay.Base, basePolicies) || !ReferenceEquals(overlay.State, state))
        {
            var host = new RouteAttemptHost(state, route.Name, this);
            var options = route.Source.HasOverrides ? basePolicies.Options.WithRouteOverrides(route.Source) : basePolicies.Options;
            overlay = new Overlay(state, basePolicies, ServicePolicies.ForRoute(state, basePolicies, options, host), host);
            Volatile.Write(ref _overlay, overlay);
        }

        return (overlay.Policies, overlay.Host);
    }

    private sealed record Overlay(ServiceState State, ServicePolicies Base, ServicePolicies Policies, IAttemptHost Host);
}

/// <summary>
/// The backend service, as the resilience pipeline of a route sees it: attempts are tagged with the route's name and
/// recorded in the route backend's traffic too.
/// </summary>
internal sealed class RouteAttemptHost(ServiceState state, string route, RouteBackend backend) : IAttemptHost
{
    public string ServiceName => state.ServiceName;

    public FailureStatusSet FailureStatuses => state.FailureStatuses;

    public RetryBudget RetryBudget => state.RetryBudget;

    public LatencyHistogram? Latency => state.Latency;

    public MeshEndpoint? Pick(HttpRequestMessage request, ulong? hash, ReadOnlySpan<MeshEndpoint> excluded) => state.Pick(request, hash, excluded);

    public void OnAttemptStarting(MeshEndpoint endpoint, int attempt) => state.OnAttemptStarting(endpoint, attempt);

    public void OnAttemptCompleted(MeshEndpoint endpoint, AttemptOutcome outcome, TimeSpan latency)
    {
        state.OnAttemptCompleted(endpoint, outcome, latency, route);
        if (state.RecordsTraffic)
        {
            backend.Traffic.Record(MonotonicClock.Ticks(state.TimeProvider, state.TimeProvider.GetTimestamp()), outcome, latency);
        }
    }

    public void OnAttemptEnded(MeshEndpoint endpoint, AttemptOutcome outcome) => state.OnAttemptEnded(endpoint, outcome);

    public void OnRetry(MeshEndpoint? failedEndpoint, AttemptOutcome outcome, int nextAttempt) => state.OnRetry(failedEndpoint, outcome, nextAttempt);

    public void OnHedge(int attempt) => state.OnHedge(attempt);

    public void OnRetryBudgetExhausted() => state.OnRetryBudgetExhausted();
}
