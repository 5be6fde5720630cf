using Mesh.Client.Balancing;
using Mesh.Client.Discovery;
using Mesh.Client.Options;
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
internal sealed partial class ServiceState : IEndpointObserver, IDisposable
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

    public ServiceState(string clientName, EndpointQuery query, MeshServiceOptions options, ILoadBalancer balancer,
        TimeProvider timeProvider, ILogger logger)
    {
        ClientName = clientName;
        Query = query;
        Options = options;
        Balancer = balancer;
        RequestHasher = RequestHasher.For(options);
        TimeProvider = timeProvider;
        _logger = logger;
        ResolverName = "(none)";
        _markUsedGranularity = timeProvider.TimestampFrequency / 4;
        _lastUsed = timeProvider.GetTimestamp();
    }

    public string ClientName { get; }

    public EndpointQuery Query { get; }

    public string ServiceName => Query.ServiceName;

    public MeshServiceOptions Options { get; }

    public ILoadBalancer Balancer { get; }

    /// <summary>Computes request hashes; <see langword="null"/> unless the balancer picks by hash.</summary>
    public RequestHasher? RequestHasher { get; }

    public TimeProvider TimeProvider { get; }

    /// <summary>The resolver that owns this service.</summary>
    public string ResolverName { get; private set; }

    /// <summary>The current snapshot: one volatile read.</summary>
    public EndpointSet Endpoints => Volatile.Read(ref _endpoints);

    /// <summary>Whether the first snapshot has arrived.</summary>
    public bool IsResolved => Volatile.Read(ref _resolved);

    /// <summary>The resolver's last error, kept for messages; cleared by the next good snapshot.</summary>
    public Exception? LastError => Volatile.Read(ref _lastError);

    /// <summary>Completes when the first snapshot arrives.</summary>
    public Task FirstResolution => _firstResolution.Task;

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
    /// Takes a complete snapshot from the resolver. Endpoints already known (same <see cref="Endpoint.Key"/>) keep
    /// their live load and health; new ones start fresh; removed ones finish what they have in flight.
    /// </summary>
    public void OnEndpoints(IReadOnlyList<Endpoint> endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        lock (_writeLock)
        {
            if (_disposed)
            {
                return;
            }

            var previous = _endpoints;
            var byKey = new Dictionary<string, Endpoint>(previous.Count, StringComparer.Ordinal);
            foreach (var endpoint in previous.Endpoints)
            {
                byKey[endpoint.Key] = endpoint;
            }

            var next = new List<Endpoint>(endpoints.Count);
            bool changed = endpoints.Count != previous.Count;
            for (int i = 0; i < endpoints.Count; i++)
            {
                var incoming = endpoints[i];
                if (byKey.TryGetValue(incoming.Key, out var existing))
                {
                    if (existing.DescribesSameAs(incoming))
                    {
                        next.Add(existing);
                        changed |= i >= previous.Count || !ReferenceEquals(previous[i], existing);
                    }
                    else
                    {
                        next.Add(incoming.WithStateOf(existing));
                        changed = true;
                    }
                }
                else
                {
                    next.Add(incoming);
                    changed = true;
                }
            }

            Volatile.Write(ref _lastError, null);
            if (changed || !_resolved)
            {
                Publish(new EndpointSet(next));
                Log.EndpointsUpdated(_logger, ServiceName, ResolverName, next.Count);
            }

            if (!_resolved)
            {
                Volatile.Write(ref _resolved, true);
                _firstResolution.TrySetResult();
            }
        }
    }

    /// <summary>A resolver refresh failed: keep the last good snapshot, remember the error for messages.</summary>
    public void OnError(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var error = exception;
        var previous = Interlocked.Exchange(ref _lastError, error);
        if (previous is null || previous.GetType() != error.GetType() || previous.Message != error.Message)
        {
            Log.ResolverFailed(_logger, ServiceName, ResolverName, error.Message, error);
        }
    }

    /// <summary>
    /// Recomputes which members are routable after a health change, and republishes. The routable subset is the
    /// available members of the lowest priority level that has one (<see cref="EndpointPriority"/>); when none is
    /// available every member of the lowest level is routable (panic), so requests still have somewhere to go.
    /// </summary>
    public void OnHealthChanged()
    {
        lock (_writeLock)
        {
            if (!_disposed)
            {
                Publish(_endpoints);
            }
        }
    }

    private void Publish(EndpointSet members)
    {
        var all = members.Endpoints;
        Span<bool> available = all.Length <= 256 ? stackalloc bool[all.Length] : new bool[all.Length];
        int availableCount = 0;
        for (int i = 0; i < all.Length; i++)
        {
            available[i] = all[i].Health.IsAvailable;
            availableCount += available[i] ? 1 : 0;
        }

        availableCount = EndpointPriority.KeepPreferredLevel(all, available, availableCount);
        EndpointSet next;
        if (availableCount == 0 && all.Length > 0)
        {
            EndpointPriority.MarkLowestLevel(all, available);
            next = members.WithRoutable(available, isPanic: true);
        }
        else
        {
            next = members.WithRoutable(available, isPanic: false);
        }

        Balancer.Update(next);
        Volatile.Write(ref _endpoints, next);
    }

    // --- Early refresh and idle tracking (DNS issue) ---

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

    public void Dispose()
    {
        IDisposable? watch;
        lock (_writeLock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            watch = _watch;
            _watch = null;
        }

        watch?.Dispose();
        _firstResolution.TrySetCanceled();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Information,
            Message = "Service '{Service}' now has {Count} endpoints (resolver '{Resolver}').")]
        public static partial void EndpointsUpdated(ILogger logger, string service, string resolver, int count);

        [LoggerMessage(EventId = 2, Level = LogLevel.Warning,
            Message = "Resolver '{Resolver}' failed to refresh service '{Service}'; keeping the last good endpoints. {Error}")]
        public static partial void ResolverFailed(ILogger logger, string service, string resolver, string error, Exception exception);
    }
}
