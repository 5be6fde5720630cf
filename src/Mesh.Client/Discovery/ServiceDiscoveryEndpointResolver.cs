using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Microsoft.Extensions.ServiceDiscovery;

namespace Mesh.Client.Discovery;

/// <summary>
/// The bridge from Microsoft.Extensions.ServiceDiscovery (MESD): every <see cref="IServiceEndpointProviderFactory"/> in
/// DI (Consul, a registry, Aspire's own, a custom one) resolves services for the mesh, with live updates from the change
/// tokens its providers add, and the mesh's rules on top: a failed refresh keeps the last good endpoints, and a name no
/// provider has endpoints for is a service that does not exist, never a DNS lookup of the name.
/// </summary>
/// <remarks>
/// <para>
/// Two of MESD's own factories are left out, because the mesh does their work already: its configuration provider
/// (the mesh's configuration resolver reads the same <c>Services</c> section by the same rules, so a service is not
/// resolved twice) and its pass-through provider (which turns any name into a DNS lookup of itself; the mesh's
/// equivalent is <c>Mesh:PassThroughUnknownHosts</c>, off by default).
/// </para>
/// <para>
/// The registry asks this resolver last, after the mesh's own: a MESD provider usually accepts every name
/// (<see cref="IServiceEndpointProviderFactory.TryCreateProvider"/> cannot say whether the name exists), so it would
/// otherwise take names the mesh's resolvers know. Providers run in their DI order, each seeing what those before it
/// added (as in MESD's watcher). A refresh is started when a change token fires, or every
/// <see cref="ServiceDiscoveryOptions.RefreshPeriod"/> when none can call back; after a failure, retries back off from
/// 1 s to 30 s.
/// </para>
/// </remarks>
internal sealed class ServiceDiscoveryEndpointResolver : IEndpointResolver
{
    /// <summary>The resolver's name: what <c>Mesh:Services:&lt;name&gt;:Resolver</c> selects it by.</summary>
    public const string ResolverName = "service-discovery";

    private readonly IServiceEndpointProviderFactory[] _factories;
    private readonly ServiceDiscoveryOptions _options;
    private readonly TimeProvider _timeProvider;

    public ServiceDiscoveryEndpointResolver(IEnumerable<IServiceEndpointProviderFactory> factories, IOptions<ServiceDiscoveryOptions> options,
        TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(factories);
        ArgumentNullException.ThrowIfNull(options);
        _factories = factories.Where(f => !IsDoneByTheMesh(f)).ToArray();
        _options = options.Value;
        _timeProvider = timeProvider;
    }

    /// <inheritdoc />
    public string Name => ResolverName;

    /// <summary>Whether any factory is left to ask (none when the application registered only MESD's own).</summary>
    public bool HasProviders => _factories.Length > 0;

    /// <summary>
    /// MESD's configuration and pass-through factories: internal types, told apart by name. The mesh's configuration
    /// resolver and <c>PassThroughUnknownHosts</c> do their work.
    /// </summary>
    internal static bool IsDoneByTheMesh(IServiceEndpointProviderFactory factory) =>
        factory.GetType().FullName is "Microsoft.Extensions.ServiceDiscovery.Configuration.ConfigurationServiceEndpointProviderFactory"
            or "Microsoft.Extensions.ServiceDiscovery.PassThrough.PassThroughServiceEndpointProviderFactory";

    /// <inheritdoc />
    public IDisposable? Watch(EndpointQuery query, IEndpointObserver observer)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(observer);
        if (_factories.Length == 0)
        {
            return null;
        }

        var serviceQuery = ServiceDiscoveryQueries.ToServiceEndpointQuery(query);
        var providers = new List<IServiceEndpointProvider>(_factories.Length);
        foreach (var factory in _factories)
        {
            if (factory.TryCreateProvider(serviceQuery, out var provider))
            {
                providers.Add(provider);
            }
        }

        if (providers.Count == 0)
        {
            return null;
        }

        var watch = new ProviderWatch([.. providers], query, observer, _options, _timeProvider);
        watch.Refresh();
        return watch;
    }

    /// <summary>One service's providers, refreshed when their change tokens fire (or on a timer), one refresh at a time.</summary>
    private sealed class ProviderWatch(IServiceEndpointProvider[] providers, EndpointQuery query, IEndpointObserver observer,
        ServiceDiscoveryOptions options, TimeProvider timeProvider) : IDisposable
    {
        private readonly CancellationTokenSource _stopping = new();
        private readonly Lock _lock = new();
        private Task _running = Task.CompletedTask;
        private bool _refreshing;
        private bool _again;
        private bool _disposed;
        private int _failures;
        private IDisposable? _changeRegistration;
        private ITimer? _timer;

        /// <summary>Starts a refresh, or asks the running one to go again when it ends.</summary>
        public void Refresh()
        {
            lock (_lock)
            {
                if (_disposed)
                {
                    return;
                }

                if (_refreshing)
                {
                    _again = true;
                    return;
                }

                _refreshing = true;
                _running = Task.Run(RunAsync);
            }
        }

        private async Task RunAsync()
        {
            while (true)
            {
                await RefreshOnceAsync().ConfigureAwait(false);
                lock (_lock)
                {
                    if (!_again || _disposed)
                    {
                        _refreshing = false;
                        return;
                    }

                    _again = false;
                }
            }
        }

        private async Task RefreshOnceAsync()
        {
            var stopping = _stopping.Token;
            var builder = new EndpointBuilder();
            List<EndpointAddress>? endpoints = null;
            Exception? error = null;
            try
            {
                foreach (var provider in providers)
                {
                    stopping.ThrowIfCancellationRequested();
                    await provider.PopulateAsync(builder, stopping).ConfigureAwait(false);
                }

                endpoints = new List<EndpointAddress>(builder.Endpoints.Count);
                foreach (var endpoint in builder.Endpoints)
                {
                    if (!ServiceDiscoveryQueries.TryMap(endpoint, query, options, out var address, out var mapError))
                    {
                        throw new FormatException($"A service discovery provider gave service '{query.ServiceName}' an endpoint the mesh cannot send to ('{EndpointAddress.Describe(endpoint.EndPoint.ToString())}'): {mapError}.");
                    }

                    endpoints.Add(address);
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                error = ex;
            }

            TimeSpan? poll;
            lock (_lock)
            {
                if (_disposed)
                {
                    return;
                }

                _changeRegistration?.Dispose();
                _changeRegistration = null;
                if (error is null)
                {
                    _failures = 0;
                    var token = builder.ChangeToken;
                    poll = token.ActiveChangeCallbacks ? null : options.RefreshPeriod;
                }
                else
                {
                    _failures++;
                    poll = ResolverBackoff.Delay(_failures, ResolverBackoff.DefaultMin, ResolverBackoff.DefaultMax, Random.Shared.NextDouble());
                }

                if (poll is { } delay)
                {
                    _timer ??= timeProvider.CreateTimer(static s => ((ProviderWatch)s!).Refresh(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                    _timer.Change(delay, Timeout.InfiniteTimeSpan);
                }
                else
                {
                    _timer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                }
            }

            if (error is not null)
            {
                observer.OnError(error);
            }
            else if (endpoints is { Count: 0 })
            {
                // MESD would hand an empty result to its pass-through provider (a DNS lookup of the name); the mesh says
                // the service does not exist, and keeps watching in case it appears.
                observer.OnError(new ServiceNotFoundException(query.ServiceName, ResolverName,
                    $"No service discovery provider ({string.Join(", ", providers.Select(p => p.ToString()))}) has endpoints for service '{query}'."));
            }
            else if (endpoints is not null)
            {
                observer.OnEndpoints(endpoints);
            }

            if (error is null && builder.ChangeToken is { ActiveChangeCallbacks: true } changeToken)
            {
                // Registered last: a token that has already fired calls back at once, and that refresh runs after this one.
                var registration = changeToken.RegisterChangeCallback(static s => ((ProviderWatch)s!).Refresh(), this);
                lock (_lock)
                {
                    if (_disposed)
                    {
                        registration.Dispose();
                        return;
                    }

                    _changeRegistration = registration;
                }
            }
        }

        public void Dispose()
        {
            Task running;
            lock (_lock)
            {
                if (_disposed)
                {
                    return;
                }

                _disposed = true;
                running = _running;
                _changeRegistration?.Dispose();
                _timer?.Dispose();
            }

            _stopping.Cancel();
            _ = DisposeProvidersAsync(running);
        }

        private async Task DisposeProvidersAsync(Task running)
        {
            await running.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            foreach (var provider in providers)
            {
                try
                {
                    await provider.DisposeAsync().ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    // A provider that fails to dispose has nothing left to tell the mesh.
                }
            }

            _stopping.Dispose();
        }
    }

    /// <summary>What providers fill in: endpoints, features and change tokens (MESD's builder, whose type is internal).</summary>
    private sealed class EndpointBuilder : IServiceEndpointBuilder
    {
        private readonly List<IChangeToken> _changeTokens = [];

        public IList<ServiceEndpoint> Endpoints { get; } = new List<ServiceEndpoint>();

        public IFeatureCollection Features { get; } = new FeatureCollection();

        public IChangeToken ChangeToken => _changeTokens.Count == 1 ? _changeTokens[0] : new CompositeChangeToken(_changeTokens);

        public void AddChangeToken(IChangeToken changeToken)
        {
            ArgumentNullException.ThrowIfNull(changeToken);
            _changeTokens.Add(changeToken);
        }
    }
}
