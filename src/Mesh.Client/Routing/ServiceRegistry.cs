using System.Collections.Concurrent;
using Mesh.Client.Balancing;
using Mesh.Client.Diagnostics;
using Mesh.Client.Discovery;
using Mesh.Client.Health;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace Mesh.Client.Routing;

/// <summary>
/// Every service every client has used: client name → (scheme, host) → <see cref="ServiceState"/>, created lazily on
/// first use and disposed with the registry. A singleton.
/// </summary>
/// <remarks>
/// Services are kept per client, as gRPC keeps a balancer per channel and Finagle per client: two clients with
/// different options for the same service do not share a balancer. Resolvers that watch a remote source share one
/// watch per service among clients themselves.
/// </remarks>
internal sealed partial class ServiceRegistry : IDisposable
{
    private readonly ConcurrentDictionary<string, ClientServices> _clients = new(StringComparer.Ordinal);
    private readonly IEndpointResolver[] _resolvers;
    private readonly IMeshRouteSource[] _routeSources;

    /// <summary>What diagnostics show as the resolver of a service no resolver knows and whose options have routes.</summary>
    internal const string RoutesOnlyResolverName = "(routes only)";
    private readonly MeshServiceOptionsFactory _optionsFactory;
    private readonly MeshConfiguration _configuration;
    private readonly ConcurrentDictionary<(string Client, string Service), MeshServiceOptions> _lastGoodOptions = new();
    private readonly ILoggerFactory _loggerFactory;
    private readonly Lock _createLock = new();
    private readonly MeshMetrics? _metrics;
    private readonly ILogger _logger;
    private ITimer? _idleSweep;
    private bool _disposed;

    public ServiceRegistry(IEnumerable<IEndpointResolver> resolvers, MeshServiceOptionsFactory optionsFactory,
        MeshConfiguration configuration, TimeProvider timeProvider, ILoggerFactory? loggerFactory = null,
        MeshMetrics? metrics = null, ServiceDiscoveryEndpointResolver? serviceDiscovery = null, IEnumerable<IMeshRouteSource>? routeSources = null)
    {
        // The mesh's resolvers in registration order (configuration first, as AddMeshClient adds it), then the MESD
        // provider bridge: its providers usually accept any name, so they come after every resolver that can say no.
        _resolvers = serviceDiscovery is { HasProviders: true } ? [.. resolvers, serviceDiscovery] : resolvers.ToArray();
        _routeSources = routeSources?.ToArray() ?? [];
        _optionsFactory = optionsFactory;
        _configuration = configuration;
        TimeProvider = timeProvider;
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _metrics = metrics;
        metrics?.Observe(() => All);
        _logger = _loggerFactory.CreateLogger("Mesh.Client.Routing");
        metrics?.SetIncludeEndpoint(configuration.Options.IncludeEndpointInMetrics);
        configuration.Changed += OnConfigurationChanged;
    }

    public TimeProvider TimeProvider { get; }

    /// <summary>
    /// Whether attempts are recorded in the per-endpoint and per-route-backend traffic series (about 5 KB per endpoint
    /// that takes traffic): off until diagnostics are first asked for (<see cref="MeshDiagnostics"/> is created), so a
    /// process that never looks pays no memory and no clock read for them.
    /// </summary>
    public bool RecordsTraffic => Volatile.Read(ref _recordsTraffic);

    private bool _recordsTraffic;

    /// <summary>Starts recording the traffic series, for every service from now on.</summary>
    public void RecordTraffic() => Volatile.Write(ref _recordsTraffic, true);

    /// <summary>The mesh-wide options in force (the last good ones; they reload).</summary>
    public MeshClientOptions ClientOptions => _configuration.Options;

    /// <summary>The last good configuration, and the reloads it rejected.</summary>
    public MeshConfiguration Configuration => _configuration;

    /// <summary>Creates the handler heartbeats send through (one per service); tests replace it. Default: a SocketsHttpHandler.</summary>
    internal Func<HttpMessageHandler>? ProbeHandlerFactory { get; set; }

    /// <summary>The services of one client; handlers keep this and look services up in it per request.</summary>
    public ClientServices GetClient(string clientName) =>
        _clients.GetOrAdd(clientName, static (name, registry) => new ClientServices(name, registry), this);

    /// <summary>Every service state of every client, for diagnostics.</summary>
    public IEnumerable<ServiceState> All => _clients.Values.SelectMany(c => c.All);

    /// <summary>
    /// Creates the state of a service, asking resolvers in order (or the one its options name); returns null, with
    /// the names of the resolvers asked, when none knows it. Serialised: a service is created once.
    /// </summary>
    internal ServiceState? Create(ClientServices client, RouteKey key, out IReadOnlyList<string> resolversAsked)
    {
        // MESD's own parser: https+http:// lists schemes in order of preference, _dashboard.catalog names an endpoint.
        var query = ServiceDiscoveryQueries.Parse(key.Scheme, key.Host);
        var serviceName = query.ServiceName;
        var options = CreateOptions(client.Name, serviceName);
        var asked = new List<string>(_resolvers.Length);
        resolversAsked = asked;

        lock (_createLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (client.TryGet(key, out var existing))
            {
                return existing;
            }

            var state = new ServiceState(client.Name, query, options, _optionsFactory.Balancers.Create(serviceName, options, TimeProvider),
                TimeProvider, _loggerFactory.CreateLogger("Mesh.Client.Routing"), ProbeHandlerFactory, metrics: _metrics, loggerFactory: _loggerFactory,
                recordsTraffic: () => RecordsTraffic);
            // Routes first: a resolver may publish at once, and the service must not be ready before its routes are known.
            WatchRoutes(state, query);
            foreach (var resolver in _resolvers)
            {
                if (options.Resolver is not null && !string.Equals(resolver.Name, options.Resolver, StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                asked.Add(resolver.Name);
                state.AskingResolver(resolver.Name);
                IDisposable? watch;
                try
                {
                    watch = resolver.Watch(query, state);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    // A resolver that throws when asked is broken, not ignorant: report it rather than try the next.
                    throw new MeshException(serviceName, $"Resolver '{resolver.Name}' failed while starting to resolve service '{serviceName}': {ex.Message}", ex);
                }

                if (watch is not null)
                {
                    state.Attach(watch);
                    client.Add(key, state);
                    return state;
                }
            }

            if (options.Routes.Count > 0 && options.Resolver is null)
            {
                // A service defined by its routes alone (a virtual service): no endpoints of its own, so every request
                // that matches a route goes to that route's backends, and one that matches none fails as a service with
                // no endpoints does.
                state.AskingResolver(RoutesOnlyResolverName);
                state.OnEndpoints([]);
                client.Add(key, state);
                return state;
            }

            if (options.Resolver is not null && asked.Count == 0)
            {
                asked.Add($"'{options.Resolver}' is not registered; registered: {string.Join(", ", _resolvers.Select(r => r.Name))}");
            }

            state.Dispose();
            return null;
        }
    }

    /// <summary>Asks the route sources in order; the first that answers owns the service's routes.</summary>
    private void WatchRoutes(ServiceState state, EndpointQuery query)
    {
        foreach (var source in _routeSources)
        {
            var observer = state.ExpectRoutes(source.Name);
            IDisposable? watch;
            try
            {
                watch = source.Watch(query, observer);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                state.Dispose();
                throw new MeshException(query.ServiceName,
                    $"Route source '{source.Name}' failed while starting to watch the routes of service '{query.ServiceName}': {ex.Message}", ex);
            }

            if (watch is not null)
            {
                state.AttachRoutes(watch);
                return;
            }
        }

        state.DeclineRoutes();
    }

    /// <summary>
    /// The options a new service state starts with: its last good configuration, then the client's delegates. When that
    /// combination is invalid (configuration and a delegate that each passed start-up but not together), the options the
    /// same client last used for the service, if any; otherwise the request fails with a <see cref="MeshException"/>
    /// naming the keys. Never an <see cref="OptionsValidationException"/> out of a request.
    /// </summary>
    private MeshServiceOptions CreateOptions(string clientName, string serviceName)
    {
        if (!_configuration.TryGetService(serviceName, out var section, out var rejection))
        {
            throw new MeshException(serviceName,
                $"Service '{serviceName}' has no valid options: its configuration was rejected and no earlier version was good. {rejection}");
        }

        try
        {
            var options = _optionsFactory.Create(clientName, serviceName, section);
            _lastGoodOptions[(clientName, serviceName)] = options;
            return options;
        }
        catch (OptionsValidationException ex)
        {
            if (_lastGoodOptions.TryGetValue((clientName, serviceName), out var lastGood))
            {
                return lastGood;
            }

            throw new MeshException(serviceName, $"The options of service '{serviceName}' for client '{clientName}' are invalid: {ex.Message}", ex);
        }
    }

    private void OnConfigurationChanged(IReadOnlyCollection<string> services)
    {
        _metrics?.SetIncludeEndpoint(_configuration.Options.IncludeEndpointInMetrics);
        ReloadOptions(services);
    }

    /// <summary>
    /// Configuration reloaded and <paramref name="services"/> took new configuration: each of their live states takes its
    /// options again (configuration, then its client's delegates). Options that fail validation together are rejected
    /// with the start-up message and the service keeps its last good ones; nothing is thrown into the configuration's
    /// reload callback. (A service whose configuration itself is invalid never gets here: <see cref="MeshConfiguration"/>
    /// rejected it.)
    /// </summary>
    internal void ReloadOptions(IReadOnlyCollection<string> services)
    {
        var names = new HashSet<string>(services, StringComparer.OrdinalIgnoreCase);
        foreach (var client in _clients.Values)
        {
            foreach (var state in client.All)
            {
                if (!names.Contains(state.ServiceName) || !_configuration.TryGetService(state.ServiceName, out var section, out _))
                {
                    continue;
                }

                MeshServiceOptions options;
                try
                {
                    options = _optionsFactory.Create(client.Name, state.ServiceName, section);
                }
                catch (OptionsValidationException ex)
                {
                    Log.ClientOptionsReloadRejected(_logger, state.ServiceName, client.Name, ex.Message);
                    continue;
                }

                _lastGoodOptions[(client.Name, state.ServiceName)] = options;
                state.ApplyOptions(options, () => _optionsFactory.Balancers.Create(state.ServiceName, options, TimeProvider));
                Log.OptionsReloaded(_logger, state.ServiceName, client.Name);
            }
        }
    }

    /// <summary>Starts the idle sweep when the first service is created (background work starts lazily).</summary>
    internal void EnsureIdleSweep()
    {
        if (Volatile.Read(ref _idleSweep) is not null)
        {
            return;
        }

        lock (_createLock)
        {
            if (_idleSweep is null && !_disposed)
            {
                _idleSweep = TimeProvider.CreateTimer(static s => ((ServiceRegistry)s!).SweepIdle(), this, SweepPeriod(), Timeout.InfiniteTimeSpan);
            }
        }
    }

    /// <summary>
    /// Forgets services unused for <see cref="MeshClientOptions.ServiceIdleTimeout"/>, then schedules the next sweep. A
    /// sweep runs every half timeout, so a service is forgotten between one and one and a half timeouts after its last
    /// use. Reads the timeout each time, so a reloaded value applies from the next sweep.
    /// </summary>
    internal void SweepIdle()
    {
        var idle = ClientOptions.ServiceIdleTimeout;
        if (idle != Timeout.InfiniteTimeSpan)
        {
            long usedSince = TimeProvider.GetTimestamp() - (long)(idle.TotalSeconds * TimeProvider.TimestampFrequency);
            foreach (var client in _clients.Values)
            {
                int forgotten = client.ForgetIdle(usedSince);
                if (forgotten > 0)
                {
                    Log.ServicesForgotten(_logger, forgotten, client.Name, idle);
                }
            }
        }

        lock (_createLock)
        {
            if (!_disposed)
            {
                _idleSweep?.Change(SweepPeriod(), Timeout.InfiniteTimeSpan);
            }
        }
    }

    private TimeSpan SweepPeriod()
    {
        var idle = ClientOptions.ServiceIdleTimeout;
        return idle == Timeout.InfiniteTimeSpan ? TimeSpan.FromMinutes(1) : TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerSecond / 2, idle.Ticks / 2));
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = MeshEventIds.OptionsReloaded, Level = LogLevel.Debug,
            Message = "Service '{Service}' of client '{Client}' took its reloaded options.")]
        public static partial void OptionsReloaded(ILogger logger, string service, string client);

        [LoggerMessage(EventId = MeshEventIds.ClientOptionsReloadRejected, Level = LogLevel.Error,
            Message = "Reloaded options of service '{Service}' with the AddMeshHandler options of client '{Client}' are invalid and were not applied; the last good options stay in force. {Errors}")]
        public static partial void ClientOptionsReloadRejected(ILogger logger, string service, string client, string errors);

        [LoggerMessage(EventId = MeshEventIds.ServicesForgotten, Level = LogLevel.Debug,
            Message = "Forgot {Count} services of client '{Client}' unused for {IdleTimeout}; their watches stopped.")]
        public static partial void ServicesForgotten(ILogger logger, int count, string client, TimeSpan idleTimeout);
    }

    public void Dispose()
    {
        lock (_createLock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _idleSweep?.Dispose();
            _configuration.Changed -= OnConfigurationChanged;
        }

        foreach (var client in _clients.Values)
        {
            client.Dispose();
        }
    }
}

/// <summary>How a request names a service: its URI's scheme and host, as the caller wrote them.</summary>
internal readonly record struct RouteKey(string Scheme, string Host)
{
    public bool Equals(RouteKey other) =>
        string.Equals(Scheme, other.Scheme, StringComparison.OrdinalIgnoreCase) && string.Equals(Host, other.Host, StringComparison.OrdinalIgnoreCase);

    public override int GetHashCode() =>
        HashCode.Combine(StringComparer.OrdinalIgnoreCase.GetHashCode(Scheme), StringComparer.OrdinalIgnoreCase.GetHashCode(Host));
}

/// <summary>The services one client has used.</summary>
internal sealed class ClientServices : IDisposable
{
    private readonly ConcurrentDictionary<RouteKey, ServiceState> _services = new();
    private readonly ServiceRegistry _registry;

    public ClientServices(string name, ServiceRegistry registry)
    {
        Name = name;
        _registry = registry;
    }

    public string Name { get; }

    public ServiceRegistry Registry => _registry;

    public IEnumerable<ServiceState> All => _services.Values;

    /// <summary>The state for <paramref name="key"/>, if it exists; marks it used (for <see cref="MeshClientOptions.ServiceIdleTimeout"/>).</summary>
    public bool TryGet(RouteKey key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ServiceState? state)
    {
        if (_services.TryGetValue(key, out state))
        {
            state.MarkUsed();
            return true;
        }

        return false;
    }

    /// <summary>The state for <paramref name="key"/>, created on first use; null when no resolver knows the service.</summary>
    public ServiceState? GetOrCreate(RouteKey key, out IReadOnlyList<string> resolversAsked)
    {
        if (_services.TryGetValue(key, out var state))
        {
            resolversAsked = [];
            return state;
        }

        return _registry.Create(this, key, out resolversAsked);
    }

    internal void Add(RouteKey key, ServiceState state)
    {
        _services[key] = state;
        _registry.EnsureIdleSweep();
    }

    /// <summary>
    /// Forgets every service not used since <paramref name="usedSince"/> (a timestamp): removes it, then disposes it, which
    /// stops its resolver watch and background work. A request already holding it finishes on its last snapshot; the
    /// next request creates it again.
    /// </summary>
    internal int ForgetIdle(long usedSince)
    {
        int forgotten = 0;
        foreach (var entry in _services)
        {
            if (entry.Value.LastUsedTimestamp < usedSince && !MayBeAwaited(entry.Value) && _services.TryRemove(entry))
            {
                entry.Value.Dispose();
                forgotten++;
            }
        }

        return forgotten;
    }

    /// <summary>
    /// Whether a request may still be waiting for the service's first resolution: it waits at most ResolutionTimeout
    /// after its use (MarkUsed stamps at most every quarter second, hence the slack). Forgetting the service then would
    /// cancel that wait: the caller would get a TaskCanceledException instead of a ResolutionTimeoutException.
    /// </summary>
    private bool MayBeAwaited(ServiceState state) => !state.IsResolved
        && _registry.TimeProvider.GetElapsedTime(state.LastUsedTimestamp) <= state.Options.ResolutionTimeout + TimeSpan.FromSeconds(1);

    public void Dispose()
    {
        foreach (var state in _services.Values)
        {
            state.Dispose();
        }

        _services.Clear();
    }
}
