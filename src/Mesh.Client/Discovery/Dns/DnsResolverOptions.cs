using System.Net;

namespace Mesh.Client.Discovery.Dns;

/// <summary>
/// Options of the DNS resolver (<c>builder.AddDns(...)</c>): which services it resolves and how it asks. Bound from the
/// configuration section <c>Mesh:Dns</c>, plus <c>Mesh:Services:&lt;name&gt;:Dns</c> per service; the delegate given to
/// <c>AddDns</c> applies on top. Validated at start-up; each message names the key and quotes the value.
/// </summary>
/// <remarks>
/// <para>
/// The resolver claims only the services listed in <see cref="Services"/>: configured with a
/// <c>Mesh:Services:&lt;name&gt;:Dns</c> section, with <c>Mesh:Services:&lt;name&gt;:Resolver</c> set to <c>dns</c>, or
/// added in code. It never guesses that an unknown name is a host name, so a misspelled service fails at once with
/// <see cref="UnknownServiceException"/> rather than turning into a lookup of a made-up host.
/// </para>
/// <code>
/// "Mesh": {
///   "Dns": { "RefreshInterval": "00:00:15" },
///   "Services": {
///     "catalog": { "Resolver": "dns", "Dns": { "HostName": "catalog.shop.svc.cluster.local", "Port": 8080 } },
///     "orders":  { "Dns": { "SrvName": "_http._tcp.orders.shop.svc.cluster.local" } }
///   }
/// }
/// </code>
/// </remarks>
public sealed class DnsResolverOptions
{
    /// <summary>The configuration section the resolver-wide options bind from: <c>Mesh:Dns</c>.</summary>
    public const string SectionName = "Mesh:Dns";

    /// <summary>The resolver's name, for <c>Mesh:Services:&lt;name&gt;:Resolver</c>: <c>dns</c>.</summary>
    public const string ResolverName = "dns";

    /// <summary>
    /// The services this resolver resolves, keyed by service name (case-insensitive). A service's entry says what to
    /// look up; an entry with nothing set looks up the A/AAAA records of the service name itself.
    /// </summary>
    public IDictionary<string, DnsServiceOptions> Services { get; } = new Dictionary<string, DnsServiceOptions>(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// DNS servers to ask, in order, as <c>ip</c> or <c>ip:port</c> (<c>[ipv6]:port</c>). Default: none, which means the
    /// system's: A/AAAA lookups go through the operating system's resolver (so <c>/etc/hosts</c> and search domains
    /// apply) and SRV lookups ask the system's nameservers (<c>/etc/resolv.conf</c> on Linux, read by DnsClient). When
    /// servers are given, every lookup asks them.
    /// </summary>
    public IList<string> Servers { get; } = [];

    /// <summary>How often a service's records are looked up again. Default: 30 seconds. A service's own value overrides it.</summary>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The shortest time between two lookups of one service when endpoints fail to connect and ask for an early
    /// refresh. Default: 2 seconds.
    /// </summary>
    public TimeSpan MinRefreshInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>The first retry delay after a failed lookup; it doubles with each consecutive failure, ±20 % jitter. Default: 1 second.</summary>
    public TimeSpan MinRetryDelay { get; set; } = ResolverBackoff.DefaultMin;

    /// <summary>The longest retry delay after failed lookups. Default: 30 seconds.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = ResolverBackoff.DefaultMax;

    /// <summary>How long one query waits for one server's reply. Default: 2 seconds.</summary>
    public TimeSpan QueryTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How many more times a query is sent to a server that did not answer in time (or answered SERVFAIL) before the
    /// next server is asked. Default: 1.
    /// </summary>
    public int QueryRetries { get; set; } = 1;

    /// <summary>Parses <c>1.2.3.4</c>, <c>1.2.3.4:5353</c>, <c>::1</c> or <c>[::1]:5353</c> (port 53 when none is given).</summary>
    internal static bool TryParseServer(string? text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IPEndPoint? server)
    {
        server = null;
        var value = text?.Trim();
        if (string.IsNullOrEmpty(value) || !IPEndPoint.TryParse(value, out var endPoint))
        {
            return false;
        }

        server = new IPEndPoint(endPoint.Address, endPoint.Port == 0 ? 53 : endPoint.Port);
        return true;
    }

    /// <summary>Checks every value; one message per bad value, naming the key and quoting the value.</summary>
    internal IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        const string prefix = SectionName;
        for (int i = 0; i < Servers.Count; i++)
        {
            if (!TryParseServer(Servers[i], out _))
            {
                errors.Add(MeshServiceOptions.Bad(prefix, $"Servers:{i}", Servers[i], "an IP address, optionally with a port (10.0.0.10, 10.0.0.10:5353, [fd00::a]:53)"));
            }
        }

        CheckDuration(errors, prefix, nameof(RefreshInterval), RefreshInterval, TimeSpan.FromMilliseconds(100), TimeSpan.FromDays(1));
        CheckDuration(errors, prefix, nameof(MinRefreshInterval), MinRefreshInterval, TimeSpan.Zero, TimeSpan.FromHours(1));
        CheckDuration(errors, prefix, nameof(MinRetryDelay), MinRetryDelay, TimeSpan.FromMilliseconds(10), TimeSpan.FromHours(1));
        CheckDuration(errors, prefix, nameof(MaxRetryDelay), MaxRetryDelay, MinRetryDelay, TimeSpan.FromHours(1));
        CheckDuration(errors, prefix, nameof(QueryTimeout), QueryTimeout, TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(1));
        if (QueryRetries is < 0 or > 10)
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(QueryRetries), QueryRetries, "0 to 10"));
        }

        foreach (var (name, service) in Services)
        {
            if (service is null)
            {
                errors.Add(MeshServiceOptions.Bad($"Mesh:Services:{name}", "Dns", null, "DNS settings for the service"));
                continue;
            }

            service.Validate($"Mesh:Services:{name}:Dns", errors);
        }

        return errors;
    }

    internal static void CheckDuration(List<string> errors, string prefix, string key, TimeSpan value, TimeSpan min, TimeSpan max)
    {
        if (value < min || value > max)
        {
            errors.Add(MeshServiceOptions.Bad(prefix, key, value, $"from {min} to {max}"));
        }
    }
}

/// <summary>What the DNS resolver looks up for one service (<c>Mesh:Services:&lt;name&gt;:Dns</c>).</summary>
public sealed class DnsServiceOptions
{
    /// <summary>
    /// The name whose A and AAAA records are the service's endpoints, for example a Kubernetes headless service
    /// <c>catalog.shop.svc.cluster.local</c> (every ready pod's address). Default: the service name. Ignored when
    /// <see cref="SrvName"/> is set.
    /// </summary>
    public string? HostName { get; set; }

    /// <summary>
    /// The SRV name to look up instead, for example <c>_http._tcp.catalog.shop.svc.cluster.local</c>. Each record's
    /// target is resolved to its addresses (from the reply's additional section, or A/AAAA lookups) and becomes one
    /// endpoint per address with the record's port; the record's weight becomes <see cref="EndpointAddress.Weight"/> (0 counts
    /// as 1) and its priority <see cref="EndpointAddress.Priority"/>: the lowest priority is used while any of its endpoints is
    /// available, the next one when none is. Names are asked as given (no search domains): write them fully qualified.
    /// Default: none (A/AAAA).
    /// </summary>
    public string? SrvName { get; set; }

    /// <summary>The port of A/AAAA endpoints. Default: the request scheme's (80 for http, 443 for https). SRV records carry their own.</summary>
    public int? Port { get; set; }

    /// <summary>Which address records to use. Default: <see cref="DnsAddressFamily.Any"/> (A and AAAA).</summary>
    public DnsAddressFamily AddressFamily { get; set; } = DnsAddressFamily.Any;

    /// <summary>How often this service is looked up again. Default: the resolver's <see cref="DnsResolverOptions.RefreshInterval"/>.</summary>
    public TimeSpan? RefreshInterval { get; set; }

    internal void Validate(string prefix, List<string> errors)
    {
        if (HostName is not null && !IsDnsName(HostName))
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(HostName), HostName, "a DNS name (labels of 1 to 63 letters, digits, '-' or '_', at most 253 characters) or an IP address"));
        }

        if (SrvName is not null && !IsDnsName(SrvName))
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(SrvName), SrvName, "a DNS name such as _http._tcp.catalog.shop.svc.cluster.local"));
        }

        if (Port is < 1 or > 65535)
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(Port), Port, "1 to 65535"));
        }

        if (!Enum.IsDefined(AddressFamily))
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(AddressFamily), AddressFamily, $"one of {string.Join(", ", Enum.GetNames<DnsAddressFamily>())}"));
        }

        if (RefreshInterval is { } interval)
        {
            DnsResolverOptions.CheckDuration(errors, prefix, nameof(RefreshInterval), interval, TimeSpan.FromMilliseconds(100), TimeSpan.FromDays(1));
        }
    }

    internal static bool IsDnsName(string name)
    {
        if (System.Net.IPAddress.TryParse(name, out _))
        {
            return true;
        }

        var trimmed = name.EndsWith('.') ? name[..^1] : name;
        if (trimmed.Length is 0 or > 253)
        {
            return false;
        }

        foreach (var label in trimmed.Split('.'))
        {
            if (label.Length is 0 or > 63)
            {
                return false;
            }

            foreach (char c in label)
            {
                if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
                {
                    return false;
                }
            }
        }

        return true;
    }
}

/// <summary>Which address records the DNS resolver uses.</summary>
public enum DnsAddressFamily
{
    /// <summary>A and AAAA records: IPv4 and IPv6 endpoints.</summary>
    Any = 0,

    /// <summary>A records only.</summary>
    IPv4 = 1,

    /// <summary>AAAA records only.</summary>
    IPv6 = 2,
}
