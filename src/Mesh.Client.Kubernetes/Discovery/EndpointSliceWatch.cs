using System.Net;
using System.Security.Authentication;
using System.Text.Json;
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
/// The loop (one task) reads the Service (for its ports and IP families, and to tell a misspelled name from an empty
/// one), lists the slices with the <c>kubernetes.io/service-name</c> label, then watches from the list's
/// resourceVersion with bookmarks. A 410 Gone, as a status or an in-stream ERROR event, lists again; a malformed
/// event is skipped and the slices are listed again (whatever it said is in the list); any other failure keeps the
/// last good view, reconnects after a jittered, growing delay, and resumes from the last resourceVersion seen. A
/// stream the server closes is reopened the same way.
/// </para>
/// <para>
/// Changes are published under a lock that subscribers joining late also take, so every subscriber sees every
/// change after its first snapshot, in order.
/// </para>
/// </remarks>
internal sealed class EndpointSliceWatch : IDisposable
{
    private readonly Lock _lock = new();
    private readonly SortedDictionary<string, SliceEntry> _slices = new(StringComparer.Ordinal);
    private readonly List<Subscription> _subscribers = [];
    private readonly KubernetesApiClient _api;
    private readonly KubernetesResolverOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly string? _zone;
    private readonly CancellationTokenSource _stop = new();
    private V1Service? _service;
    private bool _listed;
    private Exception? _lastError;
    private string? _problem;
    private Task? _loop;

    public EndpointSliceWatch(KubernetesServiceName name, KubernetesApiClient api, KubernetesResolverOptions options,
        TimeProvider timeProvider, ILogger logger)
    {
        Name = name;
        _api = api;
        _options = options;
        _timeProvider = timeProvider;
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
    /// Adds a subscriber; it gets the current view at once if the slices were listed, and every change after. Starts
    /// the loop on the first subscriber.
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
            else if (_lastError is { } error)
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
        string? resourceVersion = null;
        int failures = 0;
        int quickRelists = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            bool relistNow = false;
            try
            {
                if (resourceVersion is null)
                {
                    resourceVersion = await ListAsync(cancellationToken).ConfigureAwait(false);
                    failures = 0;
                }

                var outcome = await WatchAsync(resourceVersion, cancellationToken).ConfigureAwait(false);
                resourceVersion = outcome.ResourceVersion;
                failures = outcome.ReceivedEvents ? 0 : failures + 1;
                quickRelists = outcome.ReceivedEvents ? 0 : quickRelists;
                if (outcome.Relist)
                {
                    resourceVersion = null;
                    relistNow = quickRelists++ == 0;
                }
            }
            catch (Exception) when (cancellationToken.IsCancellationRequested)
            {
                return; // stopped: whatever the stop broke (a disposed client, a cancelled read) is not a failure to report
            }
            catch (KubernetesApiException ex) when (ex.IsGone)
            {
                KubernetesLog.Relisting(_logger, Name.Name, Name.Namespace);
                resourceVersion = null;
                relistNow = quickRelists++ == 0;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                Fail(ex);
                failures++;
            }

            if (relistNow)
            {
                continue;
            }

            var delay = ReconnectBackoff.Delay(Math.Max(0, failures - 1), _options.ReconnectDelay, _options.MaxReconnectDelay, Random.Shared.NextDouble());
            try
            {
                await Task.Delay(delay, _timeProvider, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Reads the Service and lists its slices; publishes the new view; returns the list's resourceVersion.</summary>
    private async Task<string> ListAsync(CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(_options.RequestTimeout, _timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        V1Service service;
        V1EndpointSliceList list;
        try
        {
            try
            {
                service = await _api.ReadNamespacedServiceAsync(Name.Name, Name.Namespace, linked.Token).ConfigureAwait(false);
            }
            catch (KubernetesApiException ex) when (ex.StatusCode == HttpStatusCode.NotFound)
            {
                throw new KubernetesServiceNotFoundException(Name, ex);
            }

            list = await _api.ListNamespacedEndpointSliceAsync(Name.Namespace, Name.LabelSelector, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"The Kubernetes API server did not answer within {_options.RequestTimeout.TotalSeconds:0.###} s.");
        }

        var resourceVersion = list.Metadata?.ResourceVersion;
        if (string.IsNullOrEmpty(resourceVersion))
        {
            throw new JsonException("The EndpointSlice list has no metadata.resourceVersion.");
        }

        lock (_lock)
        {
            _service = service;
            _slices.Clear();
            foreach (var slice in list.Items ?? [])
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

        KubernetesLog.Listed(_logger, Name.Name, Name.Namespace, list.Items?.Count ?? 0, resourceVersion);
        return resourceVersion;
    }

    private async Task<WatchOutcome> WatchAsync(string resourceVersion, CancellationToken cancellationToken)
    {
        // Each watch asks the server for a random length in [timeout, 2 × timeout] (client-go's spread), and gives up
        // on its own a little after, so a connection that silently died is noticed.
        int timeoutSeconds = (int)(_options.WatchTimeout.TotalSeconds * (1 + Random.Shared.NextDouble()));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds + 30), _timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        bool received = false;
        try
        {
            using var stream = await _api.WatchNamespacedEndpointSliceAsync(Name.Namespace, Name.LabelSelector, resourceVersion,
                timeoutSeconds, linked.Token).ConfigureAwait(false);
            lock (_lock)
            {
                Recover();
            }

            while (await stream.ReadAsync(linked.Token).ConfigureAwait(false) is { } watchEvent)
            {
                if (watchEvent.Type is null)
                {
                    KubernetesLog.MalformedEvent(_logger, Name.Name, Name.Namespace, watchEvent.DecodeError ?? "undecodable");
                    return new WatchOutcome(resourceVersion, received, Relist: true);
                }

                if (watchEvent.Type == WatchEventType.Error)
                {
                    var status = watchEvent.Status;
                    throw new KubernetesApiException($"WATCH endpointslices '{Name.LabelSelector}' in namespace '{Name.Namespace}'",
                        (HttpStatusCode)(status?.Code ?? 500), status);
                }

                received = true;
                var slice = watchEvent.Slice!;
                resourceVersion = slice.Metadata!.ResourceVersion!;
                if (watchEvent.Type == WatchEventType.Bookmark)
                {
                    continue;
                }

                lock (_lock)
                {
                    if (watchEvent.Type == WatchEventType.Deleted)
                    {
                        _slices.Remove(slice.Metadata.Name!);
                    }
                    else
                    {
                        _slices[slice.Metadata.Name!] = new SliceEntry(slice);
                    }

                    PublishAll();
                }
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            // Our own deadline: as if the server had closed the stream.
        }

        return new WatchOutcome(resourceVersion, received, Relist: false);
    }

    /// <summary>Applies one event line to the view, as the watch does: for the benchmark, which feeds events without a server.</summary>
    internal void ApplyForBenchmark(ReadOnlySpan<byte> line)
    {
        var watchEvent = WatchStream.Decode(line);
        lock (_lock)
        {
            if (watchEvent.Type == WatchEventType.Deleted)
            {
                _slices.Remove(watchEvent.Slice!.Metadata!.Name!);
            }
            else
            {
                _slices[watchEvent.Slice!.Metadata!.Name!] = new SliceEntry(watchEvent.Slice);
            }

            PublishAll();
        }
    }

    /// <summary>Installs a listed view without a server: for the benchmark.</summary>
    internal void LoadForBenchmark(V1Service service, IEnumerable<V1EndpointSlice> slices)
    {
        lock (_lock)
        {
            _service = service;
            foreach (var slice in slices)
            {
                _slices[slice.Metadata!.Name!] = new SliceEntry(slice);
            }

            _listed = true;
            PublishAll();
        }
    }

    private void Fail(Exception error)
    {
        string problem = Classify(error);
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

    /// <summary>Under the lock: the API answers again.</summary>
    private void Recover()
    {
        _lastError = null;
        if (_problem is not null)
        {
            _problem = null;
            KubernetesLog.WatchRecovered(_logger, Name.Name, Name.Namespace);
        }
    }

    private static string Classify(Exception error) => error switch
    {
        KubernetesServiceNotFoundException => "service not found",
        KubernetesApiException { StatusCode: HttpStatusCode.Unauthorized } => "401 Unauthorized: the token is not accepted",
        KubernetesApiException { StatusCode: HttpStatusCode.Forbidden } => "403 Forbidden: check the Role granting get, list and watch",
        KubernetesApiException api => $"API error {(int?)api.StatusCode}",
        HttpRequestException { InnerException: AuthenticationException } => "TLS handshake failed",
        HttpRequestException or IOException or TimeoutException => "API server unreachable",
        JsonException => "malformed response",
        _ => error.GetType().Name,
    };

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
        foreach (var entry in _slices.Values)
        {
            slices.Add(entry.Project(cacheKey, port.Value, subscription.Schemes));
        }

        string? family = _service?.Spec?.IpFamilies is { Count: > 0 } families ? families[0] : null;
        return new Projection(EndpointSliceProjection.Merge(slices, family, _zone, _options.MinimumZoneEndpoints), null);
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

    private readonly record struct WatchOutcome(string ResourceVersion, bool ReceivedEvents, bool Relist);

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

/// <summary>The Service a client names does not exist (yet): a misspelled name, or a Service not deployed.</summary>
internal sealed class KubernetesServiceNotFoundException(KubernetesServiceName name, Exception inner)
    : Exception($"Kubernetes service '{name.Name}' was not found in namespace '{name.Namespace}'; check the name (or deploy the Service).", inner);
