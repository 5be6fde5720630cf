using System.Net;
using System.Security.Authentication;
using System.Text.Json;
using k8s;
using k8s.Autorest;
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
/// The loop follows the EndpointSlice watch's rules: the first list from the watch cache, then a watch from the
/// list's resourceVersion with bookmarks; a cut, closed or idle watch resumes from the last version applied; a 410
/// Gone or a malformed event lists again after a random delay; other failures keep the last good routes, are reported
/// once, and are retried after a jittered delay that doubles per consecutive failure.
/// </para>
/// <para>
/// A 404 means the HTTPRoute CRD is not installed: the namespace has no routes (published as such, so no request
/// waits for them), logged once, and checked again every <see cref="KubernetesResolverOptions.MaxReconnectDelay"/>.
/// A 403 is reported with the permission to grant; requests go on without routes.
/// </para>
/// </remarks>
internal sealed class HttpRouteWatch : IDisposable
{
    private readonly Lock _lock = new();
    private readonly SortedDictionary<string, HttpRoute> _routes = new(StringComparer.Ordinal);
    private readonly List<Subscription> _subscribers = [];
    private readonly KubernetesApi _api;
    private readonly KubernetesResolverOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly string _defaultNamespace;
    private readonly BackendPorts _ports;
    private readonly CancellationTokenSource _stop = new();
    private bool _listed;
    private bool _notInstalled;
    private Exception? _lastError;
    private string? _problem;
    private Task? _loop;

    // Owned by the loop.
    private string? _resourceVersion;
    private string? _lastSeenVersion;
    private bool _consistentList;
    private bool _relistAfterFailure;

    public HttpRouteWatch(string ns, KubernetesApi api, KubernetesResolverOptions options, TimeProvider timeProvider, ILogger logger,
        string defaultNamespace, BackendPorts ports)
    {
        Namespace = ns;
        _api = api;
        _options = options;
        _timeProvider = timeProvider;
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

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        int failures = 0;
        int relists = 0;
        bool jitter = false;
        while (!cancellationToken.IsCancellationRequested)
        {
            bool listing = false;
            TimeSpan? delay = null;
            try
            {
                if (_resourceVersion is null || _relistAfterFailure)
                {
                    if (jitter)
                    {
                        // As for EndpointSlices: clients that lost their watches together do not list together.
                        jitter = false;
                        await Task.Delay(RelistDelay(++relists), _timeProvider, cancellationToken).ConfigureAwait(false);
                    }

                    listing = true;
                    await ListAsync(cancellationToken).ConfigureAwait(false);
                    listing = false;
                    _relistAfterFailure = false;
                }

                var outcome = await WatchAsync(cancellationToken).ConfigureAwait(false);
                if (outcome.Delivered)
                {
                    relists = 0;
                }

                if (outcome.Relist)
                {
                    _resourceVersion = null;
                    jitter = true;
                    continue;
                }

                failures = outcome.Delivered || !outcome.Cut ? 0 : failures + 1;
            }
            catch (Exception) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (KubernetesApiException ex) when (ex.IsGone)
            {
                _consistentList |= listing;
                _resourceVersion = null;
                jitter = true;
                continue;
            }
            catch (KubernetesApiException ex) when (ex.StatusCode == HttpStatusCode.NotFound)
            {
                // No HTTPRoute CRD (or it was removed): no routes, checked again slowly.
                NotInstalled();
                _resourceVersion = null;
                delay = ReconnectBackoff.Delay(0, _options.MaxReconnectDelay, _options.MaxReconnectDelay, Random.Shared.NextDouble());
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                if (ex is KubernetesApiException { StatusCode: HttpStatusCode.Unauthorized })
                {
                    _api.CredentialsRejected();
                }

                Fail(ex);
                failures++;
                _relistAfterFailure = true;
            }

            delay ??= ReconnectBackoff.Delay(Math.Max(0, failures - 1), _options.ReconnectDelay, _options.MaxReconnectDelay, Random.Shared.NextDouble());
            try
            {
                await Task.Delay(delay.Value, _timeProvider, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private TimeSpan RelistDelay(int relists) => relists <= 1
        ? TimeSpan.FromTicks((long)(_options.ReconnectDelay.Ticks * Random.Shared.NextDouble()))
        : ReconnectBackoff.Delay(relists - 2, _options.ReconnectDelay, _options.MaxReconnectDelay, Random.Shared.NextDouble());

    private async Task ListAsync(CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(_options.RequestTimeout, _timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var items = new List<HttpRoute>();
        string? resourceVersion = null;
        try
        {
            string? version = _consistentList ? null : _lastSeenVersion ?? "0";
            string? match = version is null or "0" ? null : "NotOlderThan";
            string? continueToken = null;
            do
            {
                var page = await _api.ListHttpRoutesAsync(Namespace, version, match, _options.ListPageSize, continueToken, linked.Token).ConfigureAwait(false);
                items.AddRange(page.Items ?? []);
                resourceVersion = page.Metadata?.ResourceVersion;
                continueToken = page.Metadata?.Continue;
            }
            while (!string.IsNullOrEmpty(continueToken));
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"The Kubernetes API server did not answer within {_options.RequestTimeout.TotalSeconds:0.###} s.");
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

        _resourceVersion = _lastSeenVersion = resourceVersion;
        _consistentList = false;
    }

    private async Task<WatchOutcome> WatchAsync(CancellationToken cancellationToken)
    {
        int timeoutSeconds = (int)(_options.WatchTimeout.TotalSeconds * (1 + Random.Shared.NextDouble()));
        using var idle = new CancellationTokenSource(_options.WatchIdleTimeout, _timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, idle.Token);
        string operation = $"WATCH httproutes in namespace '{Namespace}'";
        Exception? streamError = null;
        bool delivered = false;
        void OnStreamError(Exception error)
        {
            streamError ??= error;
            linked.Cancel();
        }

        try
        {
            await foreach (var (type, obj) in _api.WatchHttpRoutes(Namespace, _resourceVersion!, timeoutSeconds, OnStreamError, linked.Token)
                .ConfigureAwait(false))
            {
                idle.CancelAfter(_options.WatchIdleTimeout);
                delivered = true;
                var route = obj is JsonElement element ? element.Deserialize<HttpRoute>(HttpRouteJson.Options) : null;
                string? version = route?.Metadata?.ResourceVersion;
                if (string.IsNullOrEmpty(version) || (type != WatchEventType.Bookmark && string.IsNullOrEmpty(route!.Metadata!.Name)))
                {
                    KubernetesLog.HttpRouteMalformedEvent(_logger, Namespace, $"a {type} event without metadata.name or metadata.resourceVersion");
                    return new WatchOutcome(delivered, Relist: true);
                }

                if (type != WatchEventType.Bookmark)
                {
                    Apply(type, route!);
                }

                _resourceVersion = _lastSeenVersion = version;
            }
        }
        catch (OperationCanceledException) when (streamError is not null && !cancellationToken.IsCancellationRequested)
        {
            // handled below
        }
        catch (OperationCanceledException) when (idle.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return new WatchOutcome(delivered, Relist: false);
        }
        catch (HttpOperationException ex)
        {
            throw KubernetesApiException.From(operation, ex);
        }
        catch (JsonException ex) when (!cancellationToken.IsCancellationRequested)
        {
            KubernetesLog.HttpRouteMalformedEvent(_logger, Namespace, $"{ex.GetType().Name} at byte {ex.BytePositionInLine}");
            return new WatchOutcome(delivered, Relist: true);
        }
        catch (HttpRequestException ex) when (!delivered && ex.InnerException is EndOfStreamException && !cancellationToken.IsCancellationRequested)
        {
            return new WatchOutcome(delivered, Relist: false);
        }
        catch (Exception ex) when (IsCut(ex) && !cancellationToken.IsCancellationRequested)
        {
            return new WatchOutcome(delivered, Relist: false, Cut: true);
        }

        switch (streamError)
        {
            case null:
                return new WatchOutcome(delivered, Relist: false);
            case KubernetesException { Status: var status }:
                var error = KubernetesApiException.From(operation, status);
                if (error.IsGone)
                {
                    return new WatchOutcome(delivered, Relist: true);
                }

                throw error;
            default:
                KubernetesLog.HttpRouteMalformedEvent(_logger, Namespace,
                    streamError is JsonException json ? $"{json.GetType().Name} at byte {json.BytePositionInLine}" : streamError.GetType().Name);
                return new WatchOutcome(delivered, Relist: true);
        }
    }

    private static bool IsCut(Exception error) => error is IOException
        || (error is HttpRequestException { InnerException: IOException } and not KubernetesApiException);

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
                KubernetesLog.HttpRoutesNotInstalled(_logger, Namespace, _options.MaxReconnectDelay.TotalSeconds);
            }

            _routes.Clear();
            _listed = true;
            Recover();
            PublishAll();
        }
    }

    private void Fail(Exception error)
    {
        string problem = Classify(error);
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

    private static string Classify(Exception error) => error switch
    {
        KubernetesApiException { StatusCode: HttpStatusCode.Unauthorized } => "401 Unauthorized: the token is not accepted",
        KubernetesApiException { StatusCode: HttpStatusCode.Forbidden } => "403 Forbidden: check the Role granting get, list and watch on httproutes",
        KubernetesApiException api => $"API error {(int?)api.StatusCode}",
        HttpRequestException { InnerException: AuthenticationException } => "TLS handshake failed",
        HttpRequestException or IOException or TimeoutException => "API server unreachable",
        JsonException => "malformed response",
        _ => error.GetType().Name,
    };

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

    private readonly record struct WatchOutcome(bool Delivered, bool Relist, bool Cut = false);

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
