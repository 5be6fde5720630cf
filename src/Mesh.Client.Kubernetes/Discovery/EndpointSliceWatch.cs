using System.Net;
using System.Text.Json;
using k8s;
using k8s.Models;
using Mesh.Client.Discovery;
using Mesh.Client.Kubernetes.Api;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Kubernetes.Discovery;

/// <summary>
/// The list-then-watch of one Service's EndpointSlices, shared by every client that uses the Service: one list, one
/// watch connection, and one merged view, projected per subscriber (its port and schemes).
/// </summary>
/// <remarks>
/// <para>
/// The loop (one task) reads the Service (its ports and IP families, and whether it exists), lists the slices with the
/// <c>kubernetes.io/service-name</c> label page by page (the first list from the watch cache, <c>resourceVersion=0</c>;
/// later ones not older than what was seen), then watches from the list's resourceVersion with bookmarks.
/// </para>
/// <para>
/// When to resume, relist or back off (a cut, an idle watch, 410 Gone, a malformed event, failures) is
/// <see cref="ListWatchLoop"/>'s, shared with the HTTPRoute watch. Any failure keeps the last good view and is reported
/// to the subscribers.
/// </para>
/// <para>
/// The Service is read at every list, and again when a slice's ports change (a port renamed or added in the Service
/// reaches the slices as MODIFIED events), so a port rename is followed without a relist. Without <c>get</c> on
/// <c>services</c> (403), ports are taken from the slices alone, and an error naming the permission is reported only
/// when that is not enough.
/// </para>
/// <para>
/// Changes are published under a lock that subscribers joining late also take, so every subscriber sees every
/// change after its first snapshot, in order.
/// </para>
/// </remarks>
internal sealed class EndpointSliceWatch : ListWatchLoop, IDisposable
{
    private readonly Lock _lock = new();
    private readonly SortedDictionary<string, SliceEntry> _slices = new(StringComparer.Ordinal);
    private readonly List<Subscription> _subscribers = [];
    private readonly ILogger _logger;
    private readonly string? _zone;
    private readonly CancellationTokenSource _stop = new();
    private V1Service? _service;
    private bool _serviceForbidden;
    private bool _listed;
    private Exception? _lastError;
    private string? _problem;
    private Task? _loop;

    public EndpointSliceWatch(KubernetesServiceName name, KubernetesApi api, KubernetesResolverOptions options,
        TimeProvider timeProvider, ILogger logger)
        : base(api, options, timeProvider)
    {
        Name = name;
        _logger = logger;
        _zone = !string.IsNullOrEmpty(options.Zone) ? options.Zone
            : options.Environment(KubernetesResolverOptions.ZoneEnvironmentVariable) is { Length: > 0 } zone ? zone : null;
    }

    public KubernetesServiceName Name { get; }

    public int SubscriberCount
    {
        get
        {
            lock (_lock)
            {
                return _subscribers.Count;
            }
        }
    }

    /// <summary>The loop, for tests that wait for it to stop.</summary>
    internal Task Completion => _loop ?? Task.CompletedTask;

    /// <summary>
    /// Adds a subscriber; it gets the current view at once if the slices were listed (and the current error, if any),
    /// and every change after. Starts the loop on the first subscriber.
    /// </summary>
    public Subscription Subscribe(IEndpointObserver observer, string? portSelector, IReadOnlyList<string> schemes)
    {
        var subscription = new Subscription(observer, portSelector, schemes);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_stop.IsCancellationRequested, this);
            _subscribers.Add(subscription);
            if (_listed)
            {
                PublishTo(subscription);
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

    /// <summary>Reads the Service and lists its slices, page by page; publishes the new view; sets the resourceVersion to watch from.</summary>
    protected override async Task ListAsync(CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(Options.RequestTimeout, TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var items = new List<V1EndpointSlice>();
        string? resourceVersion = null;
        var (service, forbidden) = (default(V1Service), false);
        try
        {
            (service, forbidden) = await ReadServiceAsync(linked.Token).ConfigureAwait(false);

            var (version, match) = ListVersion();
            string? continueToken = null;
            do
            {
                var page = await Api.ListSlicesAsync(Name.Namespace, Name.LabelSelector, version, match, Options.ListPageSize, continueToken,
                    linked.Token).ConfigureAwait(false);
                foreach (var slice in page.Items ?? [])
                {
                    items.Add(slice);
                }

                resourceVersion = page.Metadata?.ResourceVersion;
                continueToken = page.Metadata?.ContinueProperty;
            }
            while (!string.IsNullOrEmpty(continueToken));
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"The Kubernetes API server did not answer within {Options.RequestTimeout.TotalSeconds:0.###} s.");
        }

        if (string.IsNullOrEmpty(resourceVersion))
        {
            throw new JsonException("The EndpointSlice list has no metadata.resourceVersion.");
        }

        lock (_lock)
        {
            _service = service;
            _serviceForbidden = forbidden;
            _slices.Clear();
            foreach (var slice in items)
            {
                if (slice?.Metadata?.Name is { Length: > 0 } sliceName)
                {
                    _slices[sliceName] = new SliceEntry(slice);
                }
            }

            _listed = true;
            Recover();
            PublishAll();
        }

        Listed(resourceVersion);
        KubernetesLog.Listed(_logger, Name.Name, Name.Namespace, items.Count, resourceVersion);
    }

    /// <summary>Reads the Service: null and true when the ServiceAccount may not read it (403), in which case ports come from the slices.</summary>
    /// <exception cref="KubernetesServiceNotFoundException">The Service does not exist.</exception>
    private async Task<(V1Service? Service, bool Forbidden)> ReadServiceAsync(CancellationToken cancellationToken)
    {
        try
        {
            return (await Api.ReadServiceAsync(Name.Name, Name.Namespace, cancellationToken).ConfigureAwait(false), false);
        }
        catch (KubernetesApiException ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            throw new KubernetesServiceNotFoundException(Name, ex);
        }
        catch (KubernetesApiException ex) when (ex.StatusCode == HttpStatusCode.Forbidden)
        {
            if (!_serviceForbidden)
            {
                KubernetesLog.ServiceForbidden(_logger, Name.Name, Name.Namespace);
            }

            return (null, true);
        }
    }

    /// <summary>A slice's ports changed: read the Service again (its ports were probably renamed or added), then publish.</summary>
    private async Task RefreshServiceAsync(CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(Options.RequestTimeout, TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        V1Service? service = null;
        bool forbidden = false;
        bool read = false;
        try
        {
            (service, forbidden) = await ReadServiceAsync(linked.Token).ConfigureAwait(false);
            read = true;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is not OutOfMemoryException)
        {
            // Not found (being deleted: its slices go next), or unreachable: keep the ports known so far; the next list reads it again.
            KubernetesLog.ServiceRefreshFailed(_logger, Name.Name, Name.Namespace, ex.Message);
        }

        lock (_lock)
        {
            if (read)
            {
                _service = service;
                _serviceForbidden = forbidden;
            }

            PublishAll();
        }
    }

    protected override Task<WatchOutcome> WatchAsync(CancellationToken cancellationToken) =>
        WatchEventsAsync($"WATCH endpointslices '{Name.LabelSelector}' in namespace '{Name.Namespace}'",
            (timeoutSeconds, onError, token) => Api.WatchSlices(Name.Namespace, Name.LabelSelector, ResourceVersion!, timeoutSeconds, onError, token),
            ApplyEventAsync, cancellationToken);

    private async ValueTask<string?> ApplyEventAsync(WatchEventType type, V1EndpointSlice slice, CancellationToken cancellationToken)
    {
        string? version = slice?.Metadata?.ResourceVersion;
        if (string.IsNullOrEmpty(version) || (type != WatchEventType.Bookmark && string.IsNullOrEmpty(slice!.Metadata.Name)))
        {
            return $"a {type} event without metadata.name or metadata.resourceVersion";
        }

        if (type == WatchEventType.Bookmark)
        {
            ResourceVersion = LastSeenVersion = version;
            return null;
        }

        bool portsChanged = Apply(type, slice!, publish: true);
        ResourceVersion = LastSeenVersion = version;
        if (portsChanged)
        {
            await RefreshServiceAsync(cancellationToken).ConfigureAwait(false);
        }

        return null;
    }

    protected override bool TryAnswer(Exception error, out TimeSpan? delay)
    {
        delay = null; // the usual backoff: a Service deployed later is found within MaxReconnectDelay
        if (error is not KubernetesServiceNotFoundException notFound)
        {
            return false;
        }

        PublishNotFound(notFound);
        return true;
    }

    protected override void LogGone() => KubernetesLog.Relisting(_logger, Name.Name, Name.Namespace);

    protected override void LogIdle() => KubernetesLog.WatchIdle(_logger, Name.Name, Name.Namespace, Options.WatchIdleTimeout.TotalSeconds);

    protected override void LogCut(string error) => KubernetesLog.WatchCut(_logger, Name.Name, Name.Namespace, ResourceVersion ?? string.Empty, error);

    protected override void LogMalformed(string reason) => KubernetesLog.MalformedEvent(_logger, Name.Name, Name.Namespace, reason);

    /// <summary>Applies one event to the view; returns whether the slice's ports changed (then the caller reads the Service and publishes).</summary>
    private bool Apply(WatchEventType type, V1EndpointSlice slice, bool publish)
    {
        lock (_lock)
        {
            bool portsChanged = false;
            if (type == WatchEventType.Deleted)
            {
                _slices.Remove(slice.Metadata.Name);
            }
            else
            {
                var entry = new SliceEntry(slice);
                portsChanged = _slices.TryGetValue(slice.Metadata.Name, out var previous)
                    ? previous.PortSignature != entry.PortSignature
                    : _slices.Count > 0 && !HasPortSignature(entry.PortSignature);
                _slices[slice.Metadata.Name] = entry;
            }

            portsChanged &= !_serviceForbidden;
            if (publish && !portsChanged)
            {
                PublishAll();
            }

            return portsChanged;
        }
    }

    private bool HasPortSignature(string signature)
    {
        foreach (var entry in _slices.Values)
        {
            if (entry.PortSignature == signature)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Applies one event line to the view, as the watch does: for the benchmark, which feeds events without a server.</summary>
    internal void ApplyForBenchmark(string line)
    {
        var watchEvent = KubernetesJson.Deserialize<Watcher<V1EndpointSlice>.WatchEvent>(line);
        Apply(watchEvent.Type, watchEvent.Object, publish: true);
    }

    /// <summary>Installs a listed view without a server: for the benchmark.</summary>
    internal void LoadForBenchmark(V1Service service, IEnumerable<V1EndpointSlice> slices)
    {
        lock (_lock)
        {
            _service = service;
            foreach (var slice in slices)
            {
                _slices[slice.Metadata.Name] = new SliceEntry(slice);
            }

            _listed = true;
            PublishAll();
        }
    }

    /// <summary>The Service does not exist: tell every subscriber at once (an empty list, so waiting requests fail now) and why.</summary>
    private void PublishNotFound(KubernetesServiceNotFoundException error)
    {
        lock (_lock)
        {
            _service = null;
            _serviceForbidden = false;
            _slices.Clear();
            _listed = true;
            var notFound = new ServiceNotFoundException(Name.Name, KubernetesEndpointResolver.ResolverName, error.Message, error);
            _lastError = notFound;
            if (_problem != "service not found")
            {
                _problem = "service not found";
                KubernetesLog.WatchFailing(_logger, Name.Name, Name.Namespace, _problem, error.Message);
            }

            foreach (var subscription in _subscribers)
            {
                Notify(subscription, notFound); // the mesh publishes no endpoints and fails waiting requests with it
            }
        }
    }

    protected override void Fail(Exception error)
    {
        string problem = Classify(error, "endpointslices");
        lock (_lock)
        {
            _lastError = error;
            if (problem != _problem)
            {
                _problem = problem;
                KubernetesLog.WatchFailing(_logger, Name.Name, Name.Namespace, problem, error.Message);
            }

            foreach (var subscription in _subscribers)
            {
                Notify(subscription, error);
            }
        }
    }

    /// <summary>Under the lock, before publishing a listed view: the API answers again.</summary>
    private void Recover()
    {
        _lastError = null;
        if (_problem is not null)
        {
            _problem = null;
            KubernetesLog.WatchRecovered(_logger, Name.Name, Name.Namespace);
        }
    }

    private void PublishAll()
    {
        if (_subscribers.Count == 1)
        {
            PublishTo(_subscribers[0]);
            return;
        }

        // Subscribers with the same port and schemes share one merged list.
        Dictionary<string, Projection>? shared = null;
        foreach (var subscription in _subscribers)
        {
            shared ??= new Dictionary<string, Projection>(StringComparer.Ordinal);
            if (!shared.TryGetValue(subscription.ProjectionKey, out var projection))
            {
                projection = Project(subscription);
                shared[subscription.ProjectionKey] = projection;
            }

            Deliver(subscription, projection);
        }
    }

    private void PublishTo(Subscription subscription) => Deliver(subscription, Project(subscription));

    private Projection Project(Subscription subscription)
    {
        var port = PortSelection.Resolve(_service, Name, subscription.PortSelector, out var error);
        if (port is null)
        {
            return new Projection(null, new InvalidOperationException(error));
        }

        string cacheKey = $"{port.Value}|{subscription.SchemesKey}";
        var slices = new List<ProjectedEndpoint[]>(_slices.Count);
        bool anyEndpoints = false;
        foreach (var entry in _slices.Values)
        {
            slices.Add(entry.Project(cacheKey, port.Value, subscription.Schemes));
            anyEndpoints |= entry.Slice.Endpoints is { Count: > 0 };
        }

        string? family = _service?.Spec?.IpFamilies is { Count: > 0 } families ? families[0] : null;
        var merged = EndpointSliceProjection.Merge(slices, family, _zone, Options.MinimumZoneEndpoints);
        if (merged.Count == 0 && anyEndpoints && _serviceForbidden)
        {
            // Without the Service, a port name or Service port number may not be resolvable from the slices alone.
            return new Projection(null, new InvalidOperationException(
                $"Kubernetes service '{Name.Name}' in namespace '{Name.Namespace}': no EndpointSlice port matches {port.Value}, and the Service's ports cannot be read: " +
                $"the ServiceAccount may not 'get' 'services' in namespace '{Name.Namespace}' (403 Forbidden). Grant that permission, or select the pods' port by its name or number."));
        }

        return new Projection(merged, null);
    }

    private void Deliver(Subscription subscription, Projection projection)
    {
        if (projection.Error is { } error)
        {
            Notify(subscription, error);
            return;
        }

        try
        {
            subscription.Observer.OnEndpoints(projection.Endpoints!);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            KubernetesLog.ObserverFailed(_logger, Name.ToString(), ex);
        }
    }

    private void Notify(Subscription subscription, Exception error)
    {
        try
        {
            subscription.Observer.OnError(error);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            KubernetesLog.ObserverFailed(_logger, Name.ToString(), ex);
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

    private readonly record struct Projection(List<EndpointAddress>? Endpoints, Exception? Error);

    /// <summary>One observer of the watch, with the port and schemes it asked for.</summary>
    internal sealed class Subscription(IEndpointObserver observer, string? portSelector, IReadOnlyList<string> schemes)
    {
        public IEndpointObserver Observer { get; } = observer;

        public string? PortSelector { get; } = portSelector;

        public IReadOnlyList<string> Schemes { get; } = schemes;

        public string SchemesKey { get; } = string.Join('+', schemes);

        public string ProjectionKey { get; } = $"{portSelector}|{string.Join('+', schemes)}";
    }
}

/// <summary>
/// The Service a client names does not exist (yet): a misspelled name, or a Service not deployed. Reported through
/// <see cref="IEndpointObserver.OnError"/> right after an empty list, so waiting requests fail at once.
/// </summary>
internal sealed class KubernetesServiceNotFoundException(KubernetesServiceName name, Exception inner)
    : Exception($"Kubernetes service '{name.Name}' was not found in namespace '{name.Namespace}'; check the name (or deploy the Service).", inner);
