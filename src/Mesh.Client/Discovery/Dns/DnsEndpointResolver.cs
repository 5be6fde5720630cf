using System.Net;
using DnsClient;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Mesh.Client.Discovery.Dns;

/// <summary>
/// Resolves the services configured for DNS (<see cref="DnsResolverOptions.Services"/>) from their A/AAAA records (a
/// Kubernetes headless service returns every ready pod) or their SRV records (port, weight and priority per target),
/// looking again every <see cref="DnsResolverOptions.RefreshInterval"/> and early when endpoints fail to connect.
/// </summary>
/// <remarks>
/// <para>
/// Claims only configured names and returns <see langword="null"/> for every other, so resolvers registered after it
/// still get their turn and a misspelled name is an <see cref="UnknownServiceException"/>. Named endpoints
/// (<c>http://_dashboard.catalog</c>) are not resolved by DNS.
/// </para>
/// <para>
/// One lookup serves every client that uses a service (the watch is shared and reference-counted). A failed lookup
/// keeps the last good endpoints and retries after 1 s, doubling to 30 s, ±20 % jitter; an empty answer or NXDOMAIN is
/// such a failure too, because DNS outages and names briefly missing during a redeploy are commoner than a service that
/// truly vanished (remove it from configuration to drop it). Only the first request of a service waits for DNS.
/// </para>
/// </remarks>
internal sealed class DnsEndpointResolver : IEndpointResolver, IDisposable
{
    private readonly IOptionsMonitor<DnsResolverOptions> _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<(string Service, string Scheme), DnsServiceWatch> _watches = [];
    private Clients? _clients;
    private bool _disposed;

    /// <summary>Creates the resolver.</summary>
    public DnsEndpointResolver(IOptionsMonitor<DnsResolverOptions> options, TimeProvider timeProvider, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _options = options;
        _timeProvider = timeProvider;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Mesh.Client.Discovery.Dns");
    }

    /// <inheritdoc />
    public string Name => DnsResolverOptions.ResolverName;

    /// <summary>The number of services being polled now (each shared by every client that uses it).</summary>
    public int ActiveWatches
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
        var options = _options.CurrentValue;
        if (query.EndpointName is not null || !options.Services.TryGetValue(query.ServiceName, out var service) || service is null)
        {
            return null;
        }

        string scheme = Uri.UriSchemeHttp;
        foreach (var candidate in query.Schemes)
        {
            if (candidate is "http" or "https")
            {
                scheme = candidate;
                break;
            }
        }

        var key = (query.ServiceName.ToLowerInvariant(), scheme);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_watches.TryGetValue(key, out var watch))
            {
                var (servers, srvClient) = ClientsFor(options);
                var lookup = new DnsEndpointLookup(query.ServiceName, scheme, service, servers, srvClient, options.QueryTimeout * (options.QueryRetries + 1),
                    _timeProvider, _logger);
                watch = new DnsServiceWatch(query.ServiceName, lookup, service.RefreshInterval ?? options.RefreshInterval, options, _timeProvider, _logger);
                _watches.Add(key, watch);
            }

            var subscription = watch.Subscribe(observer);
            subscription.OnDispose = (w, o) => Release(key, w, o);
            return subscription;
        }
    }

    /// <summary>The running watch of a service, if any (diagnostics and tests).</summary>
    internal DnsServiceWatch? FindWatch(string serviceName, string scheme = "http")
    {
        lock (_lock)
        {
            return _watches.GetValueOrDefault((serviceName.ToLowerInvariant(), scheme));
        }
    }

    private void Release((string, string) key, DnsServiceWatch watch, IEndpointObserver observer)
    {
        lock (_lock)
        {
            if (watch.Unsubscribe(observer) > 0)
            {
                return;
            }

            if (_watches.TryGetValue(key, out var current) && ReferenceEquals(current, watch))
            {
                _watches.Remove(key);
            }

            watch.Stop();
        }
    }

    /// <summary>The clients for the current options, built again when the options object changes (a configuration reload).</summary>
    private (IDnsQuery? Servers, Func<IDnsQuery> SrvClient) ClientsFor(DnsResolverOptions options)
    {
        if (_clients is null || !ReferenceEquals(_clients.Options, options))
        {
            IDnsQuery? servers = null;
            if (options.Servers.Count > 0)
            {
                var endPoints = new List<IPEndPoint>(options.Servers.Count);
                foreach (var text in options.Servers)
                {
                    if (!DnsResolverOptions.TryParseServer(text, out var server))
                    {
                        throw new FormatException($"'{DnsResolverOptions.SectionName}:Servers' has '{text}', which is not an IP address with an optional port.");
                    }

                    endPoints.Add(server);
                }

                servers = CreateClient(options, [.. endPoints]);
            }

            // Without configured servers, SRV asks the system's nameservers (DnsClient reads them: /etc/resolv.conf on
            // Linux), on first need only. PublicationOnly: a failure (no nameserver at all) is not cached for good.
            _clients = new Clients(options, servers, servers is null
                ? new Lazy<IDnsQuery>(() => CreateClient(options, []), LazyThreadSafetyMode.PublicationOnly)
                : new Lazy<IDnsQuery>(servers));
        }

        var srv = _clients.Srv;
        return (_clients.Servers, () => srv.Value);
    }

    /// <summary>
    /// A DnsClient lookup client as the mesh asks: the given servers in order (none: the system's), each tried
    /// <see cref="DnsResolverOptions.QueryRetries"/> more times, UDP with TCP when a reply is truncated, and no cache
    /// (the watch decides when to ask again).
    /// </summary>
    internal static LookupClient CreateClient(DnsResolverOptions options, IPEndPoint[] servers)
    {
        var clientOptions = servers.Length > 0 ? new LookupClientOptions(servers) : new LookupClientOptions();
        clientOptions.AutoResolveNameServers = servers.Length == 0;
        clientOptions.UseCache = false;
        clientOptions.UseTcpFallback = true;
        clientOptions.UseRandomNameServer = false;
        clientOptions.ThrowDnsErrors = false;
        clientOptions.Timeout = options.QueryTimeout;
        clientOptions.Retries = options.QueryRetries;
        return new LookupClient(clientOptions);
    }

    private sealed record Clients(DnsResolverOptions Options, IDnsQuery? Servers, Lazy<IDnsQuery> Srv);

    /// <summary>Stops every watch.</summary>
    public void Dispose()
    {
        List<DnsServiceWatch> watches;
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
            watch.Stop();
        }
    }
}
