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
    private readonly Lazy<Connection> _connection;
    private bool _disposed;

    /// <summary>Creates the resolver; nothing is read or dialled until a service is first watched.</summary>
    public KubernetesEndpointResolver(IOptions<KubernetesResolverOptions> options, TimeProvider timeProvider, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _timeProvider = timeProvider;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Mesh.Client.Kubernetes");
        _connection = new Lazy<Connection>(Connect, LazyThreadSafetyMode.ExecutionAndPublication);
    }

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
        if (!KubernetesServiceName.TryParse(query.ServiceName, _options.ClusterDomain, "default", out _))
        {
            return null;
        }

        bool listed = _options.Services.Count > 0;
        var connection = _connection.Value;
        if (!KubernetesServiceName.TryParse(query.ServiceName, _options.ClusterDomain, connection.Namespace, out var name)
            || (listed && !IsListed(name, connection.Namespace)))
        {
            return null;
        }

        if (connection.Api is null)
        {
            if (!listed && _options.Credentials == KubernetesCredentialSource.Auto)
            {
                return null;
            }

            // The name was promised to this resolver: say why it cannot be resolved rather than pass it on.
            observer.OnError(new InvalidOperationException($"No usable Kubernetes credentials: {connection.Reason}"));
            return new Unsubscriber(null, null, null);
        }

        string? port = query.EndpointName
            ?? (_options.Ports.TryGetValue(query.ServiceName, out var byHost) ? byHost : null)
            ?? (_options.Ports.TryGetValue(name.Name, out var byName) ? byName : null);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_watches.TryGetValue(name, out var watch))
            {
                watch = new EndpointSliceWatch(name, connection.Api, _options, _timeProvider, _logger);
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

    private bool IsListed(KubernetesServiceName name, string defaultNamespace)
    {
        foreach (var entry in _options.Services)
        {
            if (KubernetesServiceName.TryParse(entry, _options.ClusterDomain, defaultNamespace, out var listed) && listed == name)
            {
                return true;
            }
        }

        return false;
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

    private Connection Connect()
    {
        var environment = _options.Environment;
        string fallbackNamespace = _options.Namespace ?? "default";
        bool inCluster = KubernetesCredentials.IsInCluster(environment, _options.ServiceAccountPath);
        IReadOnlyList<string> kubeConfigs = _options.KubeConfigPath is { } explicitPath
            ? [explicitPath]
            : [.. KubernetesCredentials.DefaultKubeConfigPaths(environment).Where(File.Exists)];
        bool useInCluster = _options.Credentials == KubernetesCredentialSource.InCluster
            || (_options.Credentials == KubernetesCredentialSource.Auto && inCluster);
        bool useKubeConfig = !useInCluster && _options.Credentials != KubernetesCredentialSource.InCluster
            && kubeConfigs.Count > 0 && kubeConfigs.All(File.Exists);
        if (!useInCluster && !useKubeConfig)
        {
            string reason = _options.Credentials == KubernetesCredentialSource.KubeConfig
                ? $"the kubeconfig file '{_options.KubeConfigPath ?? "~/.kube/config"}' does not exist."
                : $"not running in a pod (KUBERNETES_SERVICE_HOST unset or no token in '{_options.ServiceAccountPath}') and no kubeconfig file found.";
            KubernetesLog.NoCredentials(_logger, reason);
            return new Connection(null, fallbackNamespace, reason);
        }

        try
        {
            var configuration = useInCluster
                ? KubernetesCredentials.InCluster(environment, _options.ServiceAccountPath)
                : KubernetesCredentials.FromKubeConfig(kubeConfigs, _options.KubeConfigContext);
            configuration.FirstMessageHandlerSetup = static handler =>
            {
                handler.ConnectTimeout = TimeSpan.FromSeconds(10);
                handler.PooledConnectionLifetime = TimeSpan.FromMinutes(10);
            };
            string source = useInCluster
                ? $"in-cluster service account ({_options.ServiceAccountPath})"
                : $"kubeconfig '{string.Join(Path.PathSeparator, kubeConfigs)}' context '{_options.KubeConfigContext ?? configuration.CurrentContext}'";
            string ns = _options.Namespace ?? (string.IsNullOrWhiteSpace(configuration.Namespace) ? null : configuration.Namespace.Trim()) ?? "default";
            var api = new KubernetesApi(configuration, source);
            KubernetesLog.Connected(_logger, api.Host, source, ns);
            return new Connection(api, ns, null);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A kubeconfig that cannot be used (a missing file, bad key material, a failing exec plugin, an
            // auth-provider KubernetesClient does not run): claim nothing, say why.
            KubernetesLog.UnusableCredentials(_logger, ex.Message);
            return new Connection(null, fallbackNamespace, ex.Message);
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

        if (_connection.IsValueCreated)
        {
            _connection.Value.Api?.Dispose();
        }
    }

    private sealed record Connection(KubernetesApi? Api, string Namespace, string? Reason);

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
