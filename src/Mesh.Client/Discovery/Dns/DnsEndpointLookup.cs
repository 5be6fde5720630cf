using System.Net;
using System.Net.Sockets;

namespace Mesh.Client.Discovery.Dns;

/// <summary>
/// One service's lookup, done once per refresh: its A/AAAA records (port from options or the scheme), or its SRV
/// records with each target resolved to addresses. Returns the complete endpoint list, sorted so that an unchanged
/// answer in another order (round-robin DNS) is an unchanged list; throws when the answer cannot be trusted to be
/// complete, so the caller keeps its last good list.
/// </summary>
internal sealed class DnsEndpointLookup
{
    private readonly string _serviceName;
    private readonly string _scheme;
    private readonly DnsServiceOptions _service;
    private readonly IDnsQuery? _servers;
    private readonly Func<IDnsQuery> _srvClient;
    private readonly TimeSpan _systemTimeout;
    private readonly TimeProvider _timeProvider;

    /// <param name="serviceName">The logical service.</param>
    /// <param name="scheme">The endpoints' scheme.</param>
    /// <param name="service">What to look up.</param>
    /// <param name="servers">The configured servers' client, or null to use the operating system's resolver for addresses.</param>
    /// <param name="srvClient">The client SRV queries use (the configured servers, else those of /etc/resolv.conf); created on first use.</param>
    /// <param name="systemTimeout">How long an operating-system lookup may take.</param>
    /// <param name="timeProvider">The clock of that timeout.</param>
    public DnsEndpointLookup(string serviceName, string scheme, DnsServiceOptions service, IDnsQuery? servers, Func<IDnsQuery> srvClient,
        TimeSpan systemTimeout, TimeProvider timeProvider)
    {
        _serviceName = serviceName;
        _scheme = scheme;
        _service = service;
        _servers = servers;
        _srvClient = srvClient;
        _systemTimeout = systemTimeout;
        _timeProvider = timeProvider;
    }

    /// <summary>What is looked up, for messages: <c>SRV _http._tcp.catalog...</c> or <c>A/AAAA catalog...</c>.</summary>
    public string Description => _service.SrvName is { } srv
        ? $"SRV '{srv}'"
        : $"{FamilyName(_service.AddressFamily)} '{HostName}' port {Port}";

    private string HostName => _service.HostName ?? _serviceName;

    private int Port => _service.Port ?? (_scheme == Uri.UriSchemeHttps ? 443 : 80);

    /// <summary>Looks the service up; throws <see cref="DnsResponseException"/> (or the system resolver's error) when it cannot.</summary>
    public async Task<List<EndpointAddress>> ResolveAsync(CancellationToken cancellationToken)
    {
        var endpoints = new List<EndpointAddress>();
        if (_service.SrvName is { } srvName)
        {
            await ResolveSrvAsync(srvName, endpoints, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            var addresses = await ResolveAddressesAsync(HostName, cancellationToken).ConfigureAwait(false);
            if (addresses.Count == 0)
            {
                throw new DnsResponseException(DnsResponseCode.NoError, $"'{HostName}' has no {FamilyName(_service.AddressFamily)} records");
            }

            foreach (var address in addresses)
            {
                endpoints.Add(new EndpointAddress(_scheme, address.ToString(), Port));
            }
        }

        endpoints.Sort(static (a, b) => a.Priority != b.Priority ? a.Priority.CompareTo(b.Priority) : string.CompareOrdinal(a.Key, b.Key));
        return endpoints;
    }

    private async Task ResolveSrvAsync(string srvName, List<EndpointAddress> endpoints, CancellationToken cancellationToken)
    {
        var response = await _srvClient().QueryAsync(srvName, QueryType.SRV, cancellationToken).ConfigureAwait(false);
        ThrowOnError(response, srvName, QueryType.SRV);
        var records = new List<SrvRecord>(response.AnswersOf<SrvRecord>());
        if (records.Count == 0)
        {
            throw new DnsResponseException(DnsResponseCode.NoError, $"'{srvName}' has no SRV records");
        }

        int unresolved = 0;
        foreach (var record in records)
        {
            if (record.Target.Length == 0 || record.Port == 0)
            {
                continue; // target "." (RFC 2782): the service is decidedly not available there
            }

            var addresses = FromAdditionals(response, record.Target);
            if (addresses.Count == 0)
            {
                try
                {
                    addresses = await ResolveAddressesAsync(record.Target, cancellationToken).ConfigureAwait(false);
                }
                catch (DnsResponseException ex) when (ex.Code is DnsResponseCode.NotExistentDomain)
                {
                    addresses = []; // the target is gone: drop it, keep the others
                }
                catch (SocketException ex) when (ex.SocketErrorCode is SocketError.HostNotFound or SocketError.NoData)
                {
                    addresses = [];
                }
            }

            unresolved += addresses.Count == 0 ? 1 : 0;
            foreach (var address in addresses)
            {
                // SRV weight 0 means "rarely, when others have weight" (RFC 2782); endpoint weights start at 1.
                endpoints.Add(new EndpointAddress(_scheme, address.ToString(), record.Port, weight: Math.Max(1, (int)record.Weight), priority: record.Priority));
            }
        }

        if (endpoints.Count == 0)
        {
            throw new DnsResponseException(DnsResponseCode.NoError,
                $"'{srvName}' has {records.Count} SRV records but none of their targets has an address ({unresolved} unresolved)");
        }
    }

    private List<IPAddress> FromAdditionals(DnsQueryResponse response, string target)
    {
        var addresses = new List<IPAddress>();
        if (IPAddress.TryParse(target, out var literal))
        {
            addresses.Add(literal);
            return addresses;
        }

        foreach (var record in response.Additionals)
        {
            if (!string.Equals(record.DomainName, target, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (record is ARecord a && _service.AddressFamily != DnsAddressFamily.IPv6)
            {
                addresses.Add(a.Address);
            }
            else if (record is AaaaRecord aaaa && _service.AddressFamily != DnsAddressFamily.IPv4)
            {
                addresses.Add(aaaa.Address);
            }
        }

        return addresses;
    }

    /// <summary>The addresses of <paramref name="host"/>: an IP literal as is, else the configured servers' A/AAAA answers, else the system's.</summary>
    private async Task<List<IPAddress>> ResolveAddressesAsync(string host, CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(host, out var literal))
        {
            return [literal];
        }

        if (_servers is null)
        {
            var family = _service.AddressFamily switch
            {
                DnsAddressFamily.IPv4 => AddressFamily.InterNetwork,
                DnsAddressFamily.IPv6 => AddressFamily.InterNetworkV6,
                _ => AddressFamily.Unspecified,
            };
            var found = await System.Net.Dns.GetHostAddressesAsync(host, family, cancellationToken)
                .WaitAsync(_systemTimeout, _timeProvider, cancellationToken).ConfigureAwait(false);
            return [.. found];
        }

        // Both families are asked together; either failing fails the lookup (a partial answer would drop endpoints).
        var v4 = _service.AddressFamily != DnsAddressFamily.IPv6 ? _servers.QueryAsync(host, QueryType.A, cancellationToken) : null;
        var v6 = _service.AddressFamily != DnsAddressFamily.IPv4 ? _servers.QueryAsync(host, QueryType.AAAA, cancellationToken) : null;
        // WhenAll observes both tasks, so the second's failure is not left unobserved when the first's is thrown.
        await Task.WhenAll(v4 ?? Task.FromResult<DnsQueryResponse>(null!), v6 ?? Task.FromResult<DnsQueryResponse>(null!)).ConfigureAwait(false);
        var responses = new List<(QueryType Type, DnsQueryResponse Response)>(2);
        if (v4 is not null)
        {
            responses.Add((QueryType.A, await v4.ConfigureAwait(false)));
        }

        if (v6 is not null)
        {
            responses.Add((QueryType.AAAA, await v6.ConfigureAwait(false)));
        }

        var addresses = new List<IPAddress>();
        bool allMissing = true;
        foreach (var (type, response) in responses)
        {
            if (response.Code == DnsResponseCode.NotExistentDomain)
            {
                continue;
            }

            allMissing = false;
            ThrowOnError(response, host, type);
            foreach (var record in response.Answers)
            {
                if (record is ARecord a)
                {
                    addresses.Add(a.Address);
                }
                else if (record is AaaaRecord aaaa)
                {
                    addresses.Add(aaaa.Address);
                }
            }
        }

        if (allMissing)
        {
            throw new DnsResponseException(DnsResponseCode.NotExistentDomain, $"'{host}' does not exist (NXDOMAIN from {responses[0].Response.NameServer})");
        }

        return addresses;
    }

    private static void ThrowOnError(DnsQueryResponse response, string name, QueryType type)
    {
        if (response.HasError)
        {
            throw new DnsResponseException(response.Code, response.Code == DnsResponseCode.NotExistentDomain
                ? $"'{name}' does not exist (NXDOMAIN from {response.NameServer})"
                : $"server {response.NameServer} answered {response.Code} for '{name}' {type}");
        }
    }

    private static string FamilyName(DnsAddressFamily family) => family switch
    {
        DnsAddressFamily.IPv4 => "A",
        DnsAddressFamily.IPv6 => "AAAA",
        _ => "A/AAAA",
    };
}
