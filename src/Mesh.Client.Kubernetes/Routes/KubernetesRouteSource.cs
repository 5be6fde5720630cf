using Mesh.Client.Discovery;
using Mesh.Client.Kubernetes.Api;
using Mesh.Client.Kubernetes.Discovery;
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
    private readonly SharedWatches<string, HttpRouteWatch> _watches = new(StringComparer.Ordinal);
    private readonly KubernetesResolverOptions _options;
    private readonly KubernetesConnection _connection;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;

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
    internal int WatchCount => _watches.Count;

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
        return _watches.Subscribe(name.Namespace,
            () => new HttpRouteWatch(name.Namespace, api, _options, _timeProvider, _logger, _connection.Namespace, _connection.BackendPorts),
            watch => watch.Subscribe(observer, name, port), static (watch, subscription) => watch.Unsubscribe(subscription));
    }

    /// <summary>The watch of <paramref name="ns"/>, if one runs: for tests.</summary>
    internal HttpRouteWatch? GetWatch(string ns) => _watches.Get(ns);

    public void Dispose() => _watches.Dispose();
}
