using System.Net;
using System.Text.Json;
using k8s;
using Mesh.Client.Discovery;
using Mesh.Client.Kubernetes.Api;
using Mesh.Client.Kubernetes.Discovery;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Kubernetes.Routes;

/// <summary>
/// The list-then-watch of one namespace's HTTPRoutes, shared by every client of every Service in it: one list, one
/// watch connection, one view, projected per subscriber (its Service and port) and published only when that
/// subscriber's routes change.
/// </summary>
/// <remarks>
/// <para>
/// The loop is the EndpointSlice watch's (<see cref="ListWatchLoop"/>): list, watch with bookmarks, resume, relist
/// after 410, back off. Failures keep the last good routes and are reported once per kind.
/// </para>
/// <para>
/// A 404 means the HTTPRoute CRD is not installed: the namespace has no routes (published as such, so no request
/// waits for them), logged once, and checked again every <see cref="KubernetesResolverOptions.MaxReconnectDelay"/>.
/// A 403 is reported with the permission to grant; requests go on without routes.
/// </para>
/// </remarks>
internal sealed class HttpRouteWatch : ListWatchLoop, IDisposable
{
    private readonly Lock _lock = new();
    private readonly SortedDictionary<string, HttpRoute> _routes = new(StringComparer.Ordinal);
    private readonly List<Subscription> _subscribers = [];
    private readonly ILogger _logger;
    private readonly string _defaultNamespace;
    private readonly BackendPorts _ports;
    private readonly CancellationTokenSource _stop = new();
    private bool _listed;
    private bool _notInstalled;
    private Exception? _lastError;
    private string? _problem;
    private Task? _loop;

    public HttpRouteWatch(string ns, KubernetesApi api, KubernetesResolverOptions options, TimeProvider timeProvider, ILogger logger,
        string defaultNamespace, BackendPorts ports)
        : base(api, options, timeProvider)
    {
        Namespace = ns;
        _logger = logger;
        _defaultNamespace = defaultNamespace;
        _ports = ports;
    }

    public string Namespace { get; }

    /// <summary>The loop, for tests that wait for it to stop.</summary>
    internal Task Completion => _loop ?? Task.CompletedTask;

    /// <summary>Adds a subscriber; it gets the routes at once if they are known (and the current error), and every change after.</summary>
    public Subscription Subscribe(IMeshRouteObserver observer, KubernetesServiceName service, string? portSelector)
    {
        var subscription = new Subscription(observer, service, portSelector);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_stop.IsCancellationRequested, this);
            _subscribers.Add(subscription);
            if (_listed)
            {
                Deliver(subscription, Project(subscription));
            }

            if (_lastError is { } error)
            {
                Notify(subscription, error);
            }

            _loop ??= Task.Run(() => RunAsync(_stop.Token));
        }

        return subscription;
    }

    /// <summary>Removes a subscriber; returns how many remain.</summary>
    public int Unsubscribe(Subscription subscription)
    {
        lock (_lock)
        {
            _subscribers.Remove(subscription);
            return _subscribers.Count;
        }
    }

    /// <summary>No HTTPRoute CRD (or it was removed): no routes, published as such, and checked again slowly.</summary>
    protected override bool TryAnswer(Exception error, out TimeSpan? delay)
    {
        delay = null;
        if (error is not KubernetesApiException { StatusCode: HttpStatusCode.NotFound })
        {
            return false;
        }

        NotInstalled();
        ResourceVersion = null;
        delay = ReconnectBackoff.Delay(0, Options.MaxReconnectDelay, Options.MaxReconnectDelay, Random.Shared.NextDouble());
        return true;
    }

    protected override void LogMalformed(string reason) => KubernetesLog.HttpRouteMalformedEvent(_logger, Namespace, reason);

    protected override async Task ListAsync(CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(Options.RequestTimeout, TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var items = new List<HttpRoute>();
        string? resourceVersion = null;
        try
        {
            var (version, match) = ListVersion();
            string? continueToken = null;
            do
            {
                var page = await Api.ListHttpRoutesAsync(Namespace, version, match, Options.ListPageSize, continueToken, linked.Token).ConfigureAwait(false);
                items.AddRange(page.Items ?? []);
                resourceVersion = page.Metadata?.ResourceVersion;
                continueToken = page.Metadata?.Continue;
            }
            while (!string.IsNullOrEmpty(continueToken));
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"The Kubernetes API server did not answer within {Options.RequestTimeout.TotalSeconds:0.###} s.");
        }

        if (string.IsNullOrEmpty(resourceVersion))
        {
            throw new JsonException("The HTTPRoute list has no metadata.resourceVersion.");
        }

        lock (_lock)
        {
            _routes.Clear();
            foreach (var route in items)
            {
                if (route?.Metadata?.Name is { Length: > 0 } name)
                {
                    _routes[name] = route;
                }
            }

            _listed = true;
            _notInstalled = false;
            Recover();
            PublishAll();
        }

        Listed(resourceVersion);
    }

    protected override Task<WatchOutcome> WatchAsync(CancellationToken cancellationToken) =>
        WatchEventsAsync($"WATCH httproutes in namespace '{Namespace}'",
            (timeoutSeconds, onError, token) => Api.WatchHttpRoutes(Namespace, ResourceVersion!, timeoutSeconds, onError, token),
            (type, item, _) => ValueTask.FromResult(ApplyEvent(type, item)), cancellationToken);

    private string? ApplyEvent(WatchEventType type, object item)
    {
        var route = item is JsonElement element ? element.Deserialize<HttpRoute>(HttpRouteJson.Options) : null;
        string? version = route?.Metadata?.ResourceVersion;
        if (string.IsNullOrEmpty(version) || (type != WatchEventType.Bookmark && string.IsNullOrEmpty(route!.Metadata!.Name)))
        {
            return $"a {type} event without metadata.name or metadata.resourceVersion";
        }

        if (type != WatchEventType.Bookmark)
        {
            Apply(type, route!);
        }

        ResourceVersion = LastSeenVersion = version;
        return null;
    }

    private void Apply(WatchEventType type, HttpRoute route)
    {
        lock (_lock)
        {
            if (type == WatchEventType.Deleted)
            {
                _routes.Remove(route.Metadata!.Name!);
            }
            else
            {
                _routes[route.Metadata!.Name!] = route;
            }

            PublishAll();
        }
    }

    private void NotInstalled()
    {
        lock (_lock)
        {
            if (!_notInstalled)
            {
                _notInstalled = true;
                KubernetesLog.HttpRoutesNotInstalled(_logger, Namespace, Options.MaxReconnectDelay.TotalSeconds);
            }

            _routes.Clear();
            _listed = true;
            Recover();
            PublishAll();
        }
    }

    protected override void Fail(Exception error)
    {
        string problem = Classify(error, "httproutes");
        if (error is KubernetesApiException { StatusCode: HttpStatusCode.Forbidden })
        {
            error = new InvalidOperationException(
                $"The ServiceAccount may not read HTTPRoutes in namespace '{Namespace}' (403 Forbidden); requests go on without routes from Kubernetes. " +
                $"Grant get, list and watch on 'httproutes' in API group '{KubernetesApi.GatewayGroup}', or set Mesh:Kubernetes:HttpRoutes to false.", error);
        }

        lock (_lock)
        {
            if (problem == _problem)
            {
                return; // reported once; the subscribers already know
            }

            _problem = problem;
            _lastError = error;
            KubernetesLog.HttpRouteWatchFailing(_logger, Namespace, problem, error.Message);
            foreach (var subscription in _subscribers)
            {
                Notify(subscription, error);
            }
        }
    }

    /// <summary>Under the lock: the API answers again. Subscribers get the routes again even if unchanged, which clears their error.</summary>
    private void Recover()
    {
        _lastError = null;
        if (_problem is not null)
        {
            _problem = null;
            KubernetesLog.HttpRouteWatchRecovered(_logger, Namespace);
            foreach (var subscription in _subscribers)
            {
                subscription.LastSignature = null;
            }
        }
    }

    private void PublishAll()
    {
        Dictionary<string, HttpRouteProjection.Result>? shared = null;
        foreach (var subscription in _subscribers)
        {
            shared ??= new Dictionary<string, HttpRouteProjection.Result>(StringComparer.Ordinal);
            if (!shared.TryGetValue(subscription.ProjectionKey, out var projection))
            {
                projection = Project(subscription);
                shared[subscription.ProjectionKey] = projection;
            }

            Deliver(subscription, projection);
        }
    }

    private HttpRouteProjection.Result Project(Subscription subscription) =>
        HttpRouteProjection.Project(_routes.Values, subscription.Service, subscription.PortSelector, _defaultNamespace, _ports);

    /// <summary>Hands the subscriber its routes, unless they are what it last got.</summary>
    private void Deliver(Subscription subscription, HttpRouteProjection.Result projection)
    {
        string signature = Signature(projection);
        if (signature == subscription.LastSignature)
        {
            return;
        }

        subscription.LastSignature = signature;
        try
        {
            subscription.Observer.OnRoutes(projection.Routes, projection.Ignored);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            KubernetesLog.ObserverFailed(_logger, subscription.Service.ToString(), ex);
        }
    }

    /// <summary>What a projection says, as text: equal texts, equal routes.</summary>
    internal static string Signature(HttpRouteProjection.Result projection) =>
        JsonSerializer.Serialize(projection.Routes, HttpRouteJson.Options) + "\n" + string.Join('\n', projection.Ignored);

    private void Notify(Subscription subscription, Exception error)
    {
        try
        {
            subscription.Observer.OnError(error);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            KubernetesLog.ObserverFailed(_logger, subscription.Service.ToString(), ex);
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_stop.IsCancellationRequested)
            {
                return;
            }

            _stop.Cancel();
            _subscribers.Clear();
        }
    }

    /// <summary>One Service's observer of the namespace's routes.</summary>
    internal sealed class Subscription(IMeshRouteObserver observer, KubernetesServiceName service, string? portSelector)
    {
        public IMeshRouteObserver Observer { get; } = observer;

        public KubernetesServiceName Service { get; } = service;

        public string? PortSelector { get; } = portSelector;

        public string ProjectionKey { get; } = $"{service.Name}|{portSelector}";

        /// <summary>What it was last given (under the watch's lock); null before the first.</summary>
        public string? LastSignature { get; set; }
    }
}
