using System.Net;
using System.Net.Sockets;
using DnsClient;
using DnsClient.Protocol;
using Mesh.Client.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Discovery.Dns;

/// <summary>
/// One service's lookup, done once per refresh: its A/AAAA records (port from options or the scheme), or its SRV
/// records with each target resolved to addresses. Returns the complete endpoint list, sorted so that an unchanged
/// answer in another order (round-robin DNS) is an unchanged list; throws when the answer cannot be trusted to be
/// complete, so the caller keeps its last good list.
/// </summary>
/// <remarks>
/// The wire protocol is DnsClient's (UDP, TCP when a reply is truncated). What is the mesh's own is here: SRV priority
/// and weight become the endpoint's; every A/AAAA address is an endpoint; a reply must answer the question asked; one
/// unusable SRV record is skipped (and logged once), never the whole answer; and every failure, whatever DnsClient or a
/// hostile server made of it, surfaces as <see cref="DnsResponseException"/>.
/// </remarks>
internal sealed partial class DnsEndpointLookup
{
    /// <summary>How many distinct skipped records are remembered so that each is logged once (a hostile server cannot grow it without bound).</summary>
    private const int MaxRememberedSkips = 64;

    private readonly string _serviceName;
    private readonly string _scheme;
    private readonly DnsServiceOptions _service;
    private readonly IDnsQuery? _servers;
    private readonly Func<IDnsQuery> _srvClient;
    private readonly TimeSpan _systemTimeout;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly HashSet<string> _skipsLogged = new(StringComparer.Ordinal);

    /// <param name="serviceName">The logical service.</param>
    /// <param name="scheme">The endpoints' scheme.</param>
    /// <param name="service">What to look up.</param>
    /// <param name="servers">The configured servers' client, or null to use the operating system's resolver for addresses.</param>
    /// <param name="srvClient">The client SRV queries use (the configured servers, else the system's); created on first use, may throw <see cref="DnsResponseException"/>.</param>
    /// <param name="systemTimeout">How long an operating-system lookup may take.</param>
    /// <param name="timeProvider">The clock of that timeout.</param>
    /// <param name="logger">Where skipped records are reported.</param>
    public DnsEndpointLookup(string serviceName, string scheme, DnsServiceOptions service, IDnsQuery? servers, Func<IDnsQuery> srvClient,
        TimeSpan systemTimeout, TimeProvider timeProvider, ILogger logger)
    {
        _serviceName = serviceName;
        _scheme = scheme;
        _service = service;
        _servers = servers;
        _srvClient = srvClient;
        _systemTimeout = systemTimeout;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    /// <summary>What is looked up, for messages: <c>SRV _http._tcp.catalog...</c> or <c>A/AAAA catalog...</c>.</summary>
    public string Description => _service.SrvName is { } srv
        ? $"SRV '{srv}'"
        : $"{FamilyName(_service.AddressFamily)} '{HostName}' port {Port}";

    private string HostName => _service.HostName ?? _serviceName;

    private int Port => _service.Port ?? (_scheme == Uri.UriSchemeHttps ? 443 : 80);

    /// <summary>
    /// Looks the service up. Throws <see cref="DnsResponseException"/> when it cannot (no reply, an error code, a
    /// malformed or hostile reply), a <see cref="SocketException"/> or <see cref="TimeoutException"/> from the operating
    /// system's resolver, and <see cref="OperationCanceledException"/> only when <paramref name="cancellationToken"/> is.
    /// </summary>
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
                if (NewEndpoint(address, Port, weight: 1, priority: 0) is { } endpoint)
                {
                    endpoints.Add(endpoint);
                }
            }
        }

        endpoints.Sort(static (a, b) => a.Priority != b.Priority ? a.Priority.CompareTo(b.Priority) : string.CompareOrdinal(a.Key, b.Key));
        return endpoints;
    }

    /// <summary>
    /// The one place DNS answers become endpoint addresses, through the address grammar every resolver shares. An IPv6
    /// address with a zone (<c>fe80::1%eth0</c>) is not one the mesh can put in a request URI: it is left out.
    /// </summary>
    private EndpointAddress? NewEndpoint(IPAddress address, int port, int weight, int priority) =>
        address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && address.ScopeId != 0
            ? null
            : new(_scheme, address.ToString(), port, weight: weight, priority: priority);

    private async Task ResolveSrvAsync(string srvName, List<EndpointAddress> endpoints, CancellationToken cancellationToken)
    {
        IDnsQuery client;
        try
        {
            client = _srvClient();
        }
        catch (Exception ex) when (ex is not DnsResponseException and not OutOfMemoryException)
        {
            throw new DnsResponseException(DnsResponseCode.ConnectionTimeout, $"no DNS server to ask for '{srvName}' SRV: {ex.Message}", ex);
        }

        var response = await QueryAsync(client, srvName, QueryType.SRV, cancellationToken).ConfigureAwait(false);
        ThrowOnError(response, srvName, QueryType.SRV);
        var records = new List<SrvRecord>();
        foreach (var record in response.Answers)
        {
            if (record is SrvRecord srv)
            {
                records.Add(srv);
            }
        }

        if (records.Count == 0)
        {
            throw new DnsResponseException(DnsResponseCode.NoError, $"'{srvName}' has no SRV records");
        }

        int unresolved = 0;
        int skipped = 0;
        foreach (var record in records)
        {
            var target = Normalize(record.Target.Value);
            if (target.Length == 0 || record.Port == 0)
            {
                continue; // target "." (RFC 2782): the service is decidedly not available there
            }

            if (!DnsServiceOptions.IsDnsName(target))
            {
                // One odd record (a target no host can have, such as 63 bytes of 0x01) must not stop every update.
                skipped++;
                SkipOnce(srvName, record, "its target is not a host name (labels of 1 to 63 letters, digits, '-' or '_')");
                continue;
            }

            var addresses = FromAdditionals(response, target);
            if (addresses.Count == 0)
            {
                try
                {
                    addresses = await ResolveAddressesAsync(target, cancellationToken).ConfigureAwait(false);
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
                if (NewEndpoint(address, record.Port, weight: Math.Max(1, (int)record.Weight), priority: record.Priority) is { } endpoint)
                {
                    endpoints.Add(endpoint);
                }
            }
        }

        if (endpoints.Count == 0)
        {
            throw new DnsResponseException(DnsResponseCode.NoError,
                $"'{srvName}' has {records.Count} SRV records but none of their targets has an address ({unresolved} unresolved, {skipped} unusable)");
        }
    }

    private void SkipOnce(string srvName, SrvRecord record, string reason)
    {
        var text = $"{record.Priority} {record.Weight} {record.Port} {Shorten(record.Target.Value)}";
        bool first;
        lock (_skipsLogged)
        {
            first = _skipsLogged.Count < MaxRememberedSkips && _skipsLogged.Add(text);
        }

        if (first)
        {
            Log.RecordSkipped(_logger, _serviceName, srvName, text, reason);
        }
    }

    private List<IPAddress> FromAdditionals(IDnsQueryResponse response, string target)
    {
        var addresses = new List<IPAddress>();
        if (IPAddress.TryParse(target, out var literal))
        {
            addresses.Add(literal);
            return addresses;
        }

        foreach (var record in response.Additionals)
        {
            if (record is not AddressRecord address || !string.Equals(Normalize(record.DomainName.Value), target, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if ((address is ARecord && _service.AddressFamily != DnsAddressFamily.IPv6)
                || (address is AaaaRecord && _service.AddressFamily != DnsAddressFamily.IPv4))
            {
                addresses.Add(address.Address);
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
        var v4 = _service.AddressFamily != DnsAddressFamily.IPv6 ? QueryAsync(_servers, host, QueryType.A, cancellationToken) : null;
        var v6 = _service.AddressFamily != DnsAddressFamily.IPv4 ? QueryAsync(_servers, host, QueryType.AAAA, cancellationToken) : null;
        // WhenAll observes both tasks, so the second's failure is not left unobserved when the first's is thrown.
        await Task.WhenAll(v4 ?? Task.FromResult<IDnsQueryResponse>(null!), v6 ?? Task.FromResult<IDnsQueryResponse>(null!)).ConfigureAwait(false);
        var responses = new List<(QueryType Type, IDnsQueryResponse Response)>(2);
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
            if (response.Header.ResponseCode == DnsHeaderResponseCode.NotExistentDomain)
            {
                continue;
            }

            allMissing = false;
            ThrowOnError(response, host, type);
            foreach (var record in response.Answers)
            {
                // Only the family asked for: a CNAME chain's records come along, and are not addresses.
                if ((type == QueryType.A && record is ARecord) || (type == QueryType.AAAA && record is AaaaRecord))
                {
                    addresses.Add(((AddressRecord)record).Address);
                }
            }
        }

        if (allMissing)
        {
            throw new DnsResponseException(DnsResponseCode.NotExistentDomain, $"'{host}' does not exist (NXDOMAIN from {responses[0].Response.NameServer})");
        }

        return addresses;
    }

    /// <summary>
    /// Asks <paramref name="client"/> one question. Whatever goes wrong on the way (no reply, a reply DnsClient cannot
    /// parse, a wrong id, a reply to another question, an exception type no caller expects) ends as a
    /// <see cref="DnsResponseException"/> that names the query; only the caller's own cancellation is let through.
    /// </summary>
    private static async Task<IDnsQueryResponse> QueryAsync(IDnsQuery client, string name, QueryType type, CancellationToken cancellationToken)
    {
        IDnsQueryResponse response;
        try
        {
            response = await client.QueryAsync(name, type, QueryClass.IN, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
            // DnsClient reports the caller's cancellation as a timeout; it is not one.
            cancellationToken.ThrowIfCancellationRequested();
            throw;
        }
        catch (DnsResponseException ex)
        {
            throw new DnsResponseException(ex.Code, $"DNS query for '{name}' {type} failed: {Describe(ex)}", ex);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new DnsResponseException(DnsResponseCode.Unassigned, $"DNS query for '{name}' {type} failed: {Describe(ex)}", ex);
        }

        // DnsClient matches the reply's id, not its question: a reply must answer the question asked.
        var questions = response.Questions;
        if (questions.Count != 1 || questions[0].QuestionType != type || questions[0].QuestionClass != QueryClass.IN
            || !string.Equals(Normalize(questions[0].QueryName.Value), Normalize(name), StringComparison.OrdinalIgnoreCase))
        {
            var asked = questions.Count == 0 ? "no question" : $"'{Shorten(questions[0].QueryName.Value)}' {questions[0].QuestionType}";
            throw new DnsResponseException(DnsResponseCode.Unassigned,
                $"DNS query for '{name}' {type} failed: Malformed DNS reply from {response.NameServer}: it answers another question ({asked}, {questions.Count} in all) than the one asked");
        }

        return response;
    }

    /// <summary>An exception's message with what it wraps, DnsClient's parse errors named as malformed replies.</summary>
    private static string Describe(Exception ex)
    {
        var text = ex switch
        {
            DnsResponseParseException => $"Malformed DNS reply ({ex.Message})",
            DnsXidMismatchException => $"a reply with a wrong id ({ex.Message})",
            DnsResponseException => ex.Message,
            _ => $"{ex.GetType().Name}: {ex.Message}",
        };
        if (ex.InnerException is { } inner && ex is DnsResponseException)
        {
            text += $" ({Describe(inner)})";
        }

        return text;
    }

    private static void ThrowOnError(IDnsQueryResponse response, string name, QueryType type)
    {
        if (response.HasError)
        {
            var code = (DnsResponseCode)response.Header.ResponseCode;
            throw new DnsResponseException(code, code == DnsResponseCode.NotExistentDomain
                ? $"'{name}' does not exist (NXDOMAIN from {response.NameServer})"
                : $"server {response.NameServer} answered {code} for '{name}' {type}");
        }
    }

    /// <summary>A name as the mesh compares names: lower case, no trailing dot.</summary>
    private static string Normalize(string name) => (name.EndsWith('.') ? name[..^1] : name).ToLowerInvariant();

    /// <summary>A name from a reply, cut short for a message (a hostile name can be long).</summary>
    private static string Shorten(string name) => name.Length <= 80 ? name : string.Concat(name.AsSpan(0, 77), "...");

    private static string FamilyName(DnsAddressFamily family) => family switch
    {
        DnsAddressFamily.IPv4 => "A",
        DnsAddressFamily.IPv6 => "AAAA",
        _ => "A/AAAA",
    };

    private static partial class Log
    {
        [LoggerMessage(EventId = MeshEventIds.DnsRecordSkipped, Level = LogLevel.Warning,
            Message = "DNS: service '{Service}' SRV '{SrvName}' has a record that cannot be used ({Record}): {Reason}. It is skipped and the other records are used; this is logged once.")]
        public static partial void RecordSkipped(ILogger logger, string service, string srvName, string record, string reason);
    }
}
