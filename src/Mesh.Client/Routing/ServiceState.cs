using Mesh.Client.Balancing;
using Mesh.Client.Diagnostics;
using Mesh.Client.Discovery;
using Mesh.Client.Health;
using Mesh.Client.Resilience;
using Mesh.Client.Routing.Routes;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Routing;

/// <summary>
/// Everything the mesh knows about one service as one client uses it: its options, the resolver watch that feeds it,
/// the current <see cref="EndpointSet"/> snapshot and the balancer built from it.
/// </summary>
/// <remarks>
/// Writers (resolver updates, health changes) are serialised by a lock and publish a new snapshot with one volatile
/// write; readers (requests) take the snapshot with one volatile read and never wait, except for the first resolution.
/// </remarks>
internal sealed class ServiceState : IEndpointObserver, IHealthReporter, IAttemptHost, IObservedService, IDisposable
{
    private readonly Lock _writeLock = new();
    private readonly TaskCompletionSource _firstResolution = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ILogger _logger;
    private EndpointSet _endpoints = EndpointSet.Empty;
    private bool _resolved;
    private Exception? _lastError;
    private IDisposable? _watch;
    private bool _disposed;
    private long _lastUsed;
    private readonly long _markUsedGranularity;

    private ServicePolicies _policies;
    private TaskCompletionSource? _routableChanged;
    private bool _belowPanicThreshold;

    // Routes from a route source (IMeshRouteSource): the last good list, and whether the source has answered yet.
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _isReady;
    private bool _routesSettled = true;
    private IReadOnlyList<MeshRoute> _discoveredRoutes = [];
    private IDisposable? _routeWatch;
    private Exception? _routeError;
    private IReadOnlyList<string> _ignoredRouteFields = [];
    private readonly Func<bool> _recordsTraffic;

    public ServiceState(string clientName, EndpointQuery query, MeshServiceOptions options, ILoadBalancer balancer,
        TimeProvider timeProvider, ILogger logger,
        Func<HttpMessageHandler>? probeHandlerFactory = null, Random? random = null, MeshMetrics? metrics = null,
        ILoggerFactory? loggerFactory = null, Func<bool>? recordsTraffic = null)
    {
        _recordsTraffic = recordsTraffic ?? (static () => true);
        ClientName = clientName;
        Query = query;
        TimeProvider = timeProvider;
        _logger = logger;
        LoggerFactory = loggerFactory;
        Telemetry = new ServiceTelemetry(clientName, query.ServiceName, logger, metrics);
        ResolverName = "(none)";
        _markUsedGranularity = timeProvider.TimestampFrequency / 4;
        _lastUsed = timeProvider.GetTimestamp();
        Random = random ?? Random.Shared;
        ProbeHandlerFactory = probeHandlerFactory ?? DefaultProbeHandler;
        _policies = ServicePolicies.Build(this, options, () => balancer, previous: null);
    }

    /// <summary>The random source health components jitter with.</summary>
    public Random Random { get; }

    /// <summary>Creates the handler heartbeats send through.</summary>
    public Func<HttpMessageHandler> ProbeHandlerFactory { get; }

    /// <summary>Where Polly's resilience events are logged; null for none.</summary>
    public ILoggerFactory? LoggerFactory { get; }

    /// <summary>Everything the current options decide; read once per request.</summary>
    public ServicePolicies Policies => Volatile.Read(ref _policies);

    public MeshServiceOptions Options => Policies.Options;

    public ILoadBalancer Balancer => Policies.Balancer;

    /// <summary>Computes request hashes; <see langword="null"/> unless the balancer picks by hash.</summary>
    public RequestHasher? RequestHasher => Policies.RequestHasher;

    /// <summary>Which statuses count against an endpoint.</summary>
    public FailureStatusSet FailureStatuses => Policies.FailureStatuses;

    /// <summary>Passive failure accounting, or null when <see cref="PassiveHealthOptions.Enabled"/> is off.</summary>
    public OutlierDetector? Detector => Policies.Detector;

    /// <summary>Heartbeats, or null when none are configured.</summary>
    public HeartbeatProber? Prober => Policies.Prober;

    /// <summary>The retry budget every request of this service deposits into and every retry or hedge withdraws from.</summary>
    public RetryBudget RetryBudget => Policies.RetryBudget;

    /// <summary>Recent attempt latencies, kept only when hedging uses a percentile delay.</summary>
    public LatencyHistogram? Latency => Policies.Latency;

    /// <summary>Raised once per health transition (after logging), for tests and in-process observers.</summary>
    public event Action<HealthTransition>? HealthTransitioned;

    public string ClientName { get; }

    public EndpointQuery Query { get; }

    public string ServiceName => Query.ServiceName;

    public TimeProvider TimeProvider { get; }

    /// <summary>Where this service's metrics, traces and state-change logs go.</summary>
    public ServiceTelemetry Telemetry { get; }

    /// <summary>The resolver that owns this service.</summary>
    public string ResolverName { get; private set; }

    /// <summary>The current snapshot: one volatile read.</summary>
    public EndpointSet Endpoints => Volatile.Read(ref _endpoints);

    /// <summary>Whether attempts go into the diagnostics' traffic series (from the moment diagnostics are first asked for).</summary>
    public bool RecordsTraffic => _recordsTraffic();

    /// <summary>Whether the state was disposed (forgotten while idle, or with its registry).</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed);

    /// <summary>Whether the first snapshot has arrived.</summary>
    public bool IsResolved => Volatile.Read(ref _resolved);

    /// <summary>The resolver's last error, kept for messages; cleared by the next good snapshot.</summary>
    public Exception? LastError => Volatile.Read(ref _lastError);

    /// <summary>Completes when the first snapshot arrives.</summary>
    public Task FirstResolution => _firstResolution.Task;

    /// <summary>
    /// Whether a request may be routed: the first snapshot has arrived and, when a route source owns the service's
    /// routes, its first answer too (so no request is routed before the traffic policy is known).
    /// </summary>
    public bool IsReady => Volatile.Read(ref _isReady);

    /// <summary>Completes when <see cref="IsReady"/> becomes true.</summary>
    public Task Ready => _ready.Task;

    /// <summary>The route source that owns the service's routes, if one claimed them.</summary>
    public string? RouteSourceName { get; private set; }

    /// <summary>The last good routes from the route source (empty when none, or no source).</summary>
    public IReadOnlyList<MeshRoute> DiscoveredRoutes => Volatile.Read(ref _discoveredRoutes);

    /// <summary>What the route source's policy says and the mesh left out (unsupported fields), one message each.</summary>
    public IReadOnlyList<string> IgnoredRouteFields => Volatile.Read(ref _ignoredRouteFields);

    /// <summary>Why the route source's last answer was not applied (a failed read, or a rejected list); null once one is.</summary>
    public Exception? RouteError => Volatile.Read(ref _routeError);

    /// <summary>
    /// Names the route source about to be asked; until it answers (or declines, <see cref="DeclineRoutes"/>), the service
    /// is not <see cref="IsReady"/>. Returns the observer to hand to it.
    /// </summary>
    public IMeshRouteObserver ExpectRoutes(string sourceName)
    {
        lock (_writeLock)
        {
            RouteSourceName = sourceName;
            _routesSettled = false;
        }

        return new RouteObserver(this);
    }

    /// <summary>The route source asked last does not have this service's routes.</summary>
    public void DeclineRoutes()
    {
        lock (_writeLock)
        {
            RouteSourceName = null;
            _routesSettled = true;
            UpdateReadiness();
        }
    }

    /// <summary>Attaches the watch of the route source that claimed this service's routes. Called once, right after it did.</summary>
    public void AttachRoutes(IDisposable watch)
    {
        lock (_writeLock)
        {
            if (_disposed)
            {
                watch.Dispose();
                return;
            }

            _routeWatch = watch;
        }
    }

    /// <summary>
    /// Takes the route source's complete list: checked as configuration is (a list with a bad route is rejected whole and
    /// the last good stays), then applied to new requests unless the service's options have routes of their own.
    /// </summary>
    private void OnRoutes(IReadOnlyList<MeshRoute> routes, IReadOnlyList<string> ignored)
    {
        ArgumentNullException.ThrowIfNull(routes);
        var list = routes.ToArray(); // the source's list is its own; the service keeps a copy
        var notes = ignored?.ToArray() ?? [];
        var errors = MeshServiceOptions.ValidateRoutes($"{RouteSourceName}:{ServiceName}", list);
        lock (_writeLock)
        {
            if (_disposed)
            {
                return;
            }

            if (errors.Count > 0)
            {
                var error = new MeshException(ServiceName,
                    $"The routes of service '{ServiceName}' from route source '{RouteSourceName}' were rejected; the last good routes stay in force. {string.Join(" ", errors)}");
                bool isNew = Interlocked.Exchange(ref _routeError, error)?.Message != error.Message;
                Telemetry.OnRouteSourceError(RouteSourceName!, error, isNew);
            }
            else
            {
                Volatile.Write(ref _routeError, null);
                Volatile.Write(ref _discoveredRoutes, list);
                foreach (string note in notes.Except(_ignoredRouteFields, StringComparer.Ordinal))
                {
                    Telemetry.OnRouteFieldIgnored(RouteSourceName!, note);
                }

                Volatile.Write(ref _ignoredRouteFields, notes);
                bool shadowed = _policies.Options.Routes.Count > 0;
                if (!shadowed)
                {
                    Volatile.Write(ref _policies, _policies.WithRoutes(RouteTable.Build(list, _policies.Options)));
                }

                Telemetry.OnRoutesUpdated(RouteSourceName!, list.Length, shadowed && list.Length > 0);
            }

            _routesSettled = true;
            UpdateReadiness();
        }
    }

    /// <summary>The route source could not read the routes: the last good list stays (none, before the first answer).</summary>
    private void OnRouteError(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        lock (_writeLock)
        {
            if (_disposed)
            {
                return;
            }

            bool isNew = Interlocked.Exchange(ref _routeError, exception)?.Message != exception.Message;
            Telemetry.OnRouteSourceError(RouteSourceName!, exception, isNew);
            _routesSettled = true; // a failed read is an answer: requests go on under the last good routes
            UpdateReadiness();
        }
    }

    /// <summary>Marks the service ready once both its endpoints and its routes are known. Under the write lock.</summary>
    private void UpdateReadiness()
    {
        if (_resolved && _routesSettled && !_isReady)
        {
            Volatile.Write(ref _isReady, true);
            _ready.TrySetResult();
        }
    }

    /// <summary>Hands a route source's answers to the service (a separate object: both observers have an <c>OnError</c>).</summary>
    private sealed class RouteObserver(ServiceState state) : IMeshRouteObserver
    {
        public void OnRoutes(IReadOnlyList<MeshRoute> routes, IReadOnlyList<string> ignored) => state.OnRoutes(routes, ignored);

        public void OnError(Exception exception) => state.OnRouteError(exception);
    }

    /// <summary>Names the resolver being asked, before it is asked, so what it publishes at once is attributed to it.</summary>
    public void AskingResolver(string resolverName)
    {
        lock (_writeLock)
        {
            ResolverName = resolverName;
        }
    }

    /// <summary>Attaches the watch of the resolver that claimed this service. Called once, right after it did.</summary>
    public void Attach(IDisposable watch)
    {
        lock (_writeLock)
        {
            if (_disposed)
            {
                watch.Dispose();
                return;
            }

            _watch = watch;
        }
    }

    /// <summary>
    /// Takes a complete snapshot from the resolver. Addresses already known (same <see cref="EndpointAddress.Key"/>) keep
    /// this client's record of them, with its load and health; new ones get a fresh record; removed ones finish what they
    /// have in flight. The resolver's address objects may be shared with other clients; the records never are.
    /// </summary>
    public void OnEndpoints(IReadOnlyList<EndpointAddress> endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        Apply(endpoints, error: null);
    }

    /// <summary>Publishes <paramref name="endpoints"/>; <paramref name="error"/>, if any, stays as the last error (a service not found).</summary>
    private void Apply(IReadOnlyList<EndpointAddress> endpoints, Exception? error)
    {
        using var activity = MeshTracing.StartResolverUpdate(ServiceName, ResolverName);
        HealthTransition? panic = null;
        EndpointSet? published = null;
        lock (_writeLock)
        {
            if (_disposed)
            {
                return;
            }

            // A member that joins a running service ramps up (slow start); the first members start equal.
            var slowStart = _resolved ? Policies.SlowStart : null;
            long now = MonotonicClock.Ticks(TimeProvider, TimeProvider.GetTimestamp());
            var next = EndpointRecords.Merge(_endpoints, endpoints, created => created.Health.BeginSlowStart(now, slowStart), out bool changed);

            if (Interlocked.Exchange(ref _lastError, error) is not null && error is null)
            {
                Telemetry.OnResolverRecovered(ResolverName);
            }

            if (changed || !_resolved)
            {
                panic = Publish(new EndpointSet(next));
                published = _endpoints;
                Telemetry.OnEndpointsUpdated(ResolverName, next.Count);
            }

            activity?.SetTag(MeshTracing.CountTag, next.Count);

            if (!_resolved)
            {
                Volatile.Write(ref _resolved, true);
                _firstResolution.TrySetResult();
                UpdateReadiness();
            }
        }

        if (panic is { } transition)
        {
            Report(transition);
        }

        if (published is not null)
        {
            Prober?.Update(published);
        }
    }

    /// <summary>A resolver refresh failed: keep the last good snapshot, remember the error for messages.</summary>
    public void OnError(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        if (exception is ServiceNotFoundException)
        {
            // Not a failed refresh but an answer: the service has no endpoints, and waiting requests fail at once.
            Telemetry.OnResolverError(ResolverName, exception, isNewError: LastError?.Message != exception.Message);
            Apply([], exception);
            return;
        }

        var error = exception;
        var previous = Interlocked.Exchange(ref _lastError, error);
        bool isNew = previous is null || previous.GetType() != error.GetType() || previous.Message != error.Message;
        Telemetry.OnResolverError(ResolverName, error, isNew);
    }

    /// <summary>
    /// Recomputes which members are routable after a health change, and republishes. The routable subset is the
    /// available members of the lowest priority level that has one (<see cref="Health.RoutableSet"/>). When fewer than
    /// the panic threshold of that level are available, every member of the level is routable
    /// (<see cref="PanicMode.RouteToAll"/>) or only the available ones (<see cref="PanicMode.FailFast"/>); with none
    /// available at any level, the lowest level is the one panic routes to.
    /// </summary>
    public void OnHealthChanged()
    {
        HealthTransition? panic = null;
        lock (_writeLock)
        {
            if (!_disposed)
            {
                panic = Publish(_endpoints);
            }
        }

        if (panic is { } transition)
        {
            Report(transition);
        }
    }

    /// <summary>
    /// Waits until the service has a routable endpoint, for at most <paramref name="timeout"/>; returns whether it has.
    /// Only requests that found none wait here (Linkerd's failfast): the common path never does.
    /// </summary>
    public async Task<bool> WaitForRoutableAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        long start = TimeProvider.GetTimestamp();
        while (Endpoints.Routable.IsEmpty)
        {
            var remaining = timeout - TimeProvider.GetElapsedTime(start);
            if (remaining <= TimeSpan.Zero)
            {
                return false;
            }

            Task changed;
            lock (_writeLock)
            {
                if (!Endpoints.Routable.IsEmpty)
                {
                    return true;
                }

                if (_disposed)
                {
                    return false;
                }

                changed = (_routableChanged ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }

            try
            {
                await changed.WaitAsync(remaining, TimeProvider, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                return !Endpoints.Routable.IsEmpty;
            }
        }

        return true;
    }

    /// <summary>Logs a health transition and hands it to every sink. Called outside the write lock.</summary>
    public void Report(in HealthTransition transition)
    {
        HealthLog.Write(_logger, ServiceName, transition);
        Telemetry.OnHealthTransition(transition);
        HealthTransitioned?.Invoke(transition);
    }

    /// <summary>Publishes <paramref name="members"/> with the routable subset health allows; returns a panic transition, if any.</summary>
    private HealthTransition? Publish(EndpointSet members)
    {
        var all = members.Endpoints;
        Span<bool> routable = all.Length <= 256 ? stackalloc bool[all.Length] : new bool[all.Length];
        var panic = Options.Panic;
        var (below, isPanic) = RoutableSet.Compute(all, routable, panic, out int availableCount);
        var next = members.WithRoutable(routable, isPanic);

        Balancer.Update(next);
        Volatile.Write(ref _endpoints, next);
        if (!next.Routable.IsEmpty && _routableChanged is { } waiters)
        {
            _routableChanged = null;
            waiters.TrySetResult();
        }

        if (below == _belowPanicThreshold)
        {
            return null;
        }

        _belowPanicThreshold = below;
        return below
            ? new HealthTransition(ServiceName, HealthTransitionKind.PanicEntered, null,
                panic.Mode == PanicMode.RouteToAll ? "routing to every endpoint" : "routing to available endpoints only (fail fast)",
                Available: availableCount, Members: all.Length)
            : new HealthTransition(ServiceName, HealthTransitionKind.PanicExited, null, "enough endpoints are available",
                Available: availableCount, Members: all.Length);
    }

    /// <summary>
    /// Takes reloaded options: builds the policies they decide (reusing what did not change), hands the new balancer
    /// the current endpoints, and swaps them in. Requests already sent finish under the policies they started with;
    /// endpoint records keep their load and health.
    /// </summary>
    public void ApplyOptions(MeshServiceOptions options, Func<ILoadBalancer> createBalancer)
    {
        ServicePolicies previous;
        HealthTransition? panic = null;
        lock (_writeLock)
        {
            if (_disposed)
            {
                return;
            }

            previous = _policies;
            var next = ServicePolicies.Build(this, options, createBalancer, previous);
            Volatile.Write(ref _policies, next);
            foreach (var endpoint in _endpoints.Endpoints)
            {
                var ewma = options.PeakEwma;
                endpoint.Load.Configure(ewma.SeedRtt, ewma.Decay, ewma.FailurePenaltyFactor);
            }

            if (!ReferenceEquals(next.Detector, previous.Detector))
            {
                // The previous detector's ejection timers are disposed with it: hand its ejections on, or end them when
                // passive health is now off, so no endpoint stays ejected for good.
                next.Detector?.Adopt(_endpoints.Endpoints);
                if (next.Detector is null)
                {
                    long nowTicks = MonotonicClock.Ticks(TimeProvider, TimeProvider.GetTimestamp());
                    foreach (var endpoint in _endpoints.Endpoints)
                    {
                        endpoint.Health.TryStartProbing();
                        endpoint.Health.TryReadmit(nowTicks);
                    }
                }
            }

            panic = Publish(_endpoints); // panic threshold, balancer or passive health may have changed
            previous.DisposeExcept(next);
            if (!ReferenceEquals(next.Prober, previous.Prober))
            {
                next.Prober?.Update(_endpoints);
            }
        }

        if (panic is { } transition)
        {
            Report(transition);
        }
    }

    /// <summary>
    /// Picks an endpoint the request has not tried. An endpoint probing after an ejection takes one attempt at a time;
    /// when the balancer offers one whose probe is taken, the pick is repeated without it (at most twice).
    /// </summary>
    public MeshEndpoint? Pick(HttpRequestMessage request, ulong? hash, ReadOnlySpan<MeshEndpoint> excluded)
    {
        var balancer = Balancer;
        var endpoint = balancer.Pick(new PickContext(request, hash, excluded));
        if (endpoint is null || endpoint.Health.TryBeginAttempt())
        {
            return endpoint;
        }

        // On the stack: a request excludes at most the endpoints it tried (Retry:MaxAttempts, at most 8), plus two refusals.
        var inline = default(ExcludedBuffer);
        Span<MeshEndpoint?> buffer = excluded.Length + 2 <= ExcludedBuffer.Length ? inline : new MeshEndpoint?[excluded.Length + 2];
        excluded.CopyTo(buffer!);
        int count = excluded.Length;
        for (int refusals = 0; refusals < 2; refusals++)
        {
            buffer[count++] = endpoint;
            var other = balancer.Pick(new PickContext(request, hash, buffer[..count]!));
            if (other is null)
            {
                break;
            }

            endpoint = other;
            if (endpoint.Health.TryBeginAttempt())
            {
                break;
            }
        }

        return endpoint;
    }

    public void OnAttemptStarting(MeshEndpoint endpoint, int attempt) => Telemetry.OnAttemptStarting(endpoint, attempt);

    public void OnAttemptEnded(MeshEndpoint endpoint, AttemptOutcome outcome) => Policies.Detector?.OnAttemptCompleted(endpoint, outcome);

    public void OnAttemptCompleted(MeshEndpoint endpoint, AttemptOutcome outcome, TimeSpan latency) => OnAttemptCompleted(endpoint, outcome, latency, route: null);

    /// <summary>An attempt's headers arrived (or it failed before them); <paramref name="route"/> names the route it went through, if any.</summary>
    public void OnAttemptCompleted(MeshEndpoint endpoint, AttemptOutcome outcome, TimeSpan latency, string? route)
    {
        var policies = Policies;
        Telemetry.OnAttemptCompleted(endpoint, outcome, latency, route);
        if (RecordsTraffic)
        {
            endpoint.Traffic.Record(MonotonicClock.Ticks(TimeProvider, TimeProvider.GetTimestamp()), outcome, latency);
        }
        if (outcome == AttemptOutcome.ConnectFailure)
        {
            OnConnectFailure(); // a polling resolver looks again now (rate-limited by the watch)
        }
        else if (outcome == AttemptOutcome.Success)
        {
            policies.Latency?.Record(latency);
        }
    }

    public void OnRetry(MeshEndpoint? failedEndpoint, AttemptOutcome outcome, int nextAttempt) => Telemetry.OnRetry(failedEndpoint, outcome, nextAttempt);

    public void OnHedge(int attempt) => Telemetry.OnHedge(attempt);

    public void OnRetryBudgetExhausted() => Telemetry.OnRetryBudgetExhausted();

    /// <summary>
    /// An attempt could not connect: asks a polling resolver to look again now, so replicas that replaced the failing one
    /// are found without waiting for the refresh interval. The watch rate-limits; this costs a type check otherwise.
    /// </summary>
    public void OnConnectFailure()
    {
        if (Volatile.Read(ref _watch) is IRefreshableWatch refreshable)
        {
            refreshable.RequestRefresh();
        }
    }

    /// <summary>When a request last used this service, as a <see cref="TimeProvider.GetTimestamp"/> value.</summary>
    public long LastUsedTimestamp => Volatile.Read(ref _lastUsed);

    /// <summary>
    /// Records a use, for forgetting idle services. At most one shared write per quarter second: a busy service's
    /// requests read the stamp and move on, so they do not contend for its cache line.
    /// </summary>
    public void MarkUsed()
    {
        long now = TimeProvider.GetTimestamp();
        if (now - Volatile.Read(ref _lastUsed) > _markUsedGranularity)
        {
            Volatile.Write(ref _lastUsed, now);
        }
    }

    /// <summary>Whether fewer members than the panic threshold are available (whatever the panic mode).</summary>
    public bool IsBelowPanicThreshold
    {
        get
        {
            lock (_writeLock)
            {
                return _belowPanicThreshold;
            }
        }
    }

    private static SocketsHttpHandler DefaultProbeHandler() => new SocketsHttpHandler
    {
        // Probes see DNS and address changes; the connection is not the mesh's request pool.
        PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        ConnectTimeout = TimeSpan.FromSeconds(5),
        AllowAutoRedirect = false,
        UseCookies = false,
    };

    public void Dispose()
    {
        IDisposable? watch;
        IDisposable? routeWatch;
        lock (_writeLock)
        {
            if (_disposed)
            {
                return;
            }

            Volatile.Write(ref _disposed, true);
            watch = _watch;
            _watch = null;
            routeWatch = _routeWatch;
            _routeWatch = null;
            _routableChanged?.TrySetResult();
            _routableChanged = null;
        }

        watch?.Dispose();
        routeWatch?.Dispose();
        Policies.Dispose();
        _firstResolution.TrySetCanceled();
        _ready.TrySetCanceled();
    }
}

/// <summary>Room on the stack for the endpoints one pick excludes.</summary>
[System.Runtime.CompilerServices.InlineArray(Length)]
internal struct ExcludedBuffer
{
    public const int Length = 12;

    private MeshEndpoint? _first;
}
