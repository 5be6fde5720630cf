using Mesh.Client.Discovery;
using Mesh.Client.Kubernetes.Api;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Mesh.Client.Kubernetes.Routes;

/// <summary>
/// Routes from Gateway API HTTPRoutes attached to a Service (GAMMA), registered by <c>AddKubernetes()</c> unless
/// <see cref="KubernetesResolverOptions.HttpRoutes"/> is off. It claims the names the Kubernetes resolver claims, with
/// the same connection, and follows the HTTPRoutes of the Service's namespace (producer routes) through one watch per
/// namespace, shared by every client and Service there.
/// </summary>
internal sealed class KubernetesRouteSource : IMeshRouteSource, IDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, HttpRouteWatch> _watches = new(StringComparer.Ordinal);
    private readonly KubernetesResolverOptions _options;
    private readonly KubernetesConnection _connection;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private bool _disposed;

    public KubernetesRouteSource(IOptions<KubernetesResolverOptions> options, KubernetesConnection connection, TimeProvider timeProvider,
        ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _connection = connection;
        _timeProvider = timeProvider;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Mesh.Client.Kubernetes");
    }

    /// <inheritdoc />
    public string Name => "kubernetes";

    /// <summary>The connection (the resolver's too), for tests.</summary>
    internal KubernetesConnection Connection => _connection;

    /// <summary>The namespaces watched now.</summary>
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
    public IDisposable? Watch(EndpointQuery query, IMeshRouteObserver observer)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(observer);
        if (!_options.HttpRoutes || !_connection.TryClaim(query.ServiceName, out var name, out _) || _connection.Api is not { } api)
        {
            return null; // not ours, or no credentials (the resolver reports that): no routes to wait for
        }

        string? port = query.EndpointName
            ?? (_options.Ports.TryGetValue(query.ServiceName, out var byHost) ? byHost : null)
            ?? (_options.Ports.TryGetValue(name.Name, out var byName) ? byName : null);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_watches.TryGetValue(name.Namespace, out var watch))
            {
                watch = new HttpRouteWatch(name.Namespace, api, _options, _timeProvider, _logger, _connection.Namespace, _connection.BackendPorts);
                _watches[name.Namespace] = watch;
            }

            return new Unsubscriber(this, watch, watch.Subscribe(observer, name, port));
        }
    }

    /// <summary>The watch of <paramref name="ns"/>, if one runs: for tests.</summary>
    internal HttpRouteWatch? GetWatch(string ns)
    {
        lock (_lock)
        {
            return _watches.GetValueOrDefault(ns);
        }
    }

    private void Release(HttpRouteWatch watch, HttpRouteWatch.Subscription subscription)
    {
        lock (_lock)
        {
            if (watch.Unsubscribe(subscription) == 0 && _watches.TryGetValue(watch.Namespace, out var current) && ReferenceEquals(current, watch))
            {
                _watches.Remove(watch.Namespace);
                watch.Dispose();
            }
        }
    }

    public void Dispose()
    {
        HttpRouteWatch[] watches;
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
    }

    private sealed class Unsubscriber(KubernetesRouteSource owner, HttpRouteWatch watch, HttpRouteWatch.Subscription subscription) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.Release(watch, subscription);
            }
        }
    }
}
