using Mesh.Client.Discovery;
using Mesh.Client.Kubernetes.Api;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Mesh.Client.Kubernetes.Discovery;

/// <summary>
/// Resolves Kubernetes Services from the API server's EndpointSlices (list, then watch), so requests go straight to
/// ready pods. Registered by <c>AddKubernetes()</c>; its name is <c>kubernetes</c>.
/// </summary>
/// <remarks>
/// <para>
/// Which names it claims: those of the forms <c>catalog</c>, <c>catalog.ns</c>, <c>catalog.ns.svc</c> and
/// <c>catalog.ns.svc.cluster.local</c>, and only when credentials are available (in a pod, or with a kubeconfig). With
/// <see cref="KubernetesResolverOptions.Services"/> set, only the names listed. Resolvers registered earlier (the
/// configuration resolver, static endpoints) are asked first, so a service configured there is not taken.
/// </para>
/// <para>
/// A name is claimed before the API has confirmed the Service exists (<see cref="Watch"/> must not block). When the
/// Service does not exist, the watch publishes an empty list (waiting requests fail at once) and reports "Kubernetes
/// service 'x' was not found in namespace 'y'", and keeps checking, so a Service created later is picked up.
/// </para>
/// <para>Every client that uses a Service shares one watch of it; the watch stops when the last client lets go.</para>
/// </remarks>
internal sealed class KubernetesEndpointResolver : IEndpointResolver, IDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<KubernetesServiceName, EndpointSliceWatch> _watches = [];
    private readonly KubernetesResolverOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly KubernetesConnection _connection;
    private readonly bool _ownsConnection;
    private bool _disposed;

    /// <summary>
    /// Creates the resolver; nothing is read or dialled until a service is first watched. Given a
    /// <paramref name="connection"/> (the one the HTTPRoute source uses too), it shares it; otherwise it has its own.
    /// </summary>
    public KubernetesEndpointResolver(IOptions<KubernetesResolverOptions> options, TimeProvider timeProvider, ILoggerFactory? loggerFactory = null,
        KubernetesConnection? connection = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _timeProvider = timeProvider;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Mesh.Client.Kubernetes");
        _ownsConnection = connection is null;
        _connection = connection ?? new KubernetesConnection(options, loggerFactory);
    }

    /// <summary>The connection, for tests and the route source.</summary>
    internal KubernetesConnection Connection => _connection;

    /// <summary>The name services select this resolver by.</summary>
    public const string ResolverName = "kubernetes";

    /// <inheritdoc />
    public string Name => ResolverName;

    /// <summary>The number of Services watched now (each shared by all clients that use it).</summary>
    internal int WatchCount
    {
        get
        {
            lock (_lock)
            {
                return _watches.Count;
            }
        }
    }

    /// <inheritdoc />
    public IDisposable? Watch(EndpointQuery query, IEndpointObserver observer)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(observer);
        if (!_connection.TryClaim(query.ServiceName, out var name, out bool listed))
        {
            return null;
        }

        var api = _connection.Api;
        if (api is null)
        {
            if (!listed && _options.Credentials == KubernetesCredentialSource.Auto)
            {
                return null;
            }

            // The name was promised to this resolver: say why it cannot be resolved rather than pass it on.
            observer.OnError(new InvalidOperationException($"No usable Kubernetes credentials: {_connection.Reason}"));
            return new Unsubscriber(null, null, null);
        }

        string? port = query.EndpointName
            ?? (_options.Ports.TryGetValue(query.ServiceName, out var byHost) ? byHost : null)
            ?? (_options.Ports.TryGetValue(name.Name, out var byName) ? byName : null)
            ?? _connection.BackendPorts.Get(query.ServiceName);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_watches.TryGetValue(name, out var watch))
            {
                watch = new EndpointSliceWatch(name, api, _options, _timeProvider, _logger);
                _watches[name] = watch;
            }

            return new Unsubscriber(this, watch, watch.Subscribe(observer, port, query.Schemes));
        }
    }

    /// <summary>The watch of <paramref name="name"/>, if one runs: for tests.</summary>
    internal EndpointSliceWatch? GetWatch(string name, string ns)
    {
        lock (_lock)
        {
            return _watches.GetValueOrDefault(new KubernetesServiceName(name, ns));
        }
    }

    private void Release(EndpointSliceWatch watch, EndpointSliceWatch.Subscription subscription)
    {
        lock (_lock)
        {
            if (watch.Unsubscribe(subscription) == 0 && _watches.TryGetValue(watch.Name, out var current) && ReferenceEquals(current, watch))
            {
                _watches.Remove(watch.Name);
                watch.Dispose();
            }
        }
    }

    /// <summary>Stops every watch.</summary>
    public void Dispose()
    {
        EndpointSliceWatch[] watches;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            watches = [.. _watches.Values];
            _watches.Clear();
        }

        foreach (var watch in watches)
        {
            watch.Dispose();
        }

        if (_ownsConnection)
        {
            _connection.Dispose();
        }
    }

    private sealed class Unsubscriber(KubernetesEndpointResolver? owner, EndpointSliceWatch? watch, EndpointSliceWatch.Subscription? subscription) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0 && owner is not null)
            {
                owner.Release(watch!, subscription!);
            }
        }
    }
}
