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
    private readonly SharedWatches<KubernetesServiceName, EndpointSliceWatch> _watches = new();
    private readonly KubernetesResolverOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly KubernetesConnection _connection;
    private readonly bool _ownsConnection;

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
    internal int WatchCount => _watches.Count;

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
            return NoWatch.Instance;
        }

        string? port = query.EndpointName
            ?? (_options.Ports.TryGetValue(query.ServiceName, out var byHost) ? byHost : null)
            ?? (_options.Ports.TryGetValue(name.Name, out var byName) ? byName : null)
            ?? _connection.BackendPorts.Get(query.ServiceName);
        return _watches.Subscribe(name, () => new EndpointSliceWatch(name, api, _options, _timeProvider, _logger),
            watch => watch.Subscribe(observer, port, query.Schemes), static (watch, subscription) => watch.Unsubscribe(subscription));
    }

    /// <summary>The watch of <paramref name="name"/>, if one runs: for tests.</summary>
    internal EndpointSliceWatch? GetWatch(string name, string ns) => _watches.Get(new KubernetesServiceName(name, ns));

    /// <summary>Stops every watch.</summary>
    public void Dispose()
    {
        _watches.Dispose();
        if (_ownsConnection)
        {
            _connection.Dispose();
        }
    }

    /// <summary>The handle of a name claimed without credentials: there is nothing to stop.</summary>
    private sealed class NoWatch : IDisposable
    {
        public static readonly NoWatch Instance = new();

        public void Dispose()
        {
        }
    }
}
