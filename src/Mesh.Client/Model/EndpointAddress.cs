using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Mesh.Client;

/// <summary>
/// Where one replica of a service is, and how resolvers describe it: scheme, host, port, weight, priority, zone,
/// labels and hash key. An immutable value: what resolvers publish and what every client of the service reads.
/// </summary>
/// <remarks>
/// <para>
/// An address carries no live state. Each client keeps its own record of each address it routes to (load, health,
/// slow start), found by <see cref="Key"/> across updates, so two clients of one service never share what they have
/// learned about an endpoint and an update never resets it.
/// </para>
/// <para>
/// <see cref="Key"/> is canonical: scheme and host in lower case, an IPv6 address in its RFC 5952 form, so
/// <c>LOCALHOST:80</c> and <c>localhost:80</c>, or <c>[0:0::1]</c> and <c>[::1]</c>, are one endpoint.
/// </para>
/// </remarks>
public sealed class EndpointAddress : IEquatable<EndpointAddress>
{
    private static readonly IReadOnlyDictionary<string, string> s_noMetadata = new Dictionary<string, string>(0);

    /// <summary>Creates an address.</summary>
    /// <param name="scheme"><c>http</c> or <c>https</c>.</param>
    /// <param name="host">A host name or an IP address (IPv6 with or without brackets).</param>
    /// <param name="port">The TCP port, 1 to 65535.</param>
    /// <param name="weight">A relative weight, at least 1. Weighted balancers use it; the others ignore it.</param>
    /// <param name="zone">The zone or locality the endpoint runs in, if known.</param>
    /// <param name="metadata">Free-form labels from the resolver (for example a Kubernetes node name).</param>
    /// <param name="hashKey">The key consistent-hashing balancers place the endpoint by; defaults to <c>host:port</c>.</param>
    /// <param name="priority">
    /// The endpoint's priority level, 0 or more; lower is preferred (DNS SRV priority, Envoy's priority levels). A service
    /// routes to the lowest level that has an available endpoint. Default: 0.
    /// </param>
    /// <exception cref="ArgumentException">A value is out of range; the message says which.</exception>
    public EndpointAddress(string scheme, string host, int port, int weight = 1, string? zone = null,
        IReadOnlyDictionary<string, string>? metadata = null, string? hashKey = null, int priority = 0)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(scheme);
        ArgumentException.ThrowIfNullOrWhiteSpace(host);
        if (!string.Equals(scheme, Uri.UriSchemeHttp, StringComparison.OrdinalIgnoreCase)
            && !string.Equals(scheme, Uri.UriSchemeHttps, StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"Endpoint scheme must be 'http' or 'https', not '{scheme}'.", nameof(scheme));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(port, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        ArgumentOutOfRangeException.ThrowIfLessThan(weight, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(priority);

        Scheme = scheme.ToLowerInvariant();
        Host = CanonicalHost(host);
        Port = port;
        Weight = weight;
        Priority = priority;
        Zone = zone;
        Metadata = metadata ?? s_noMetadata;

        bool isIPv6 = Host.Contains(':', StringComparison.Ordinal);
        Authority = isIPv6
            ? string.Create(CultureInfo.InvariantCulture, $"[{Host}]:{Port}")
            : string.Create(CultureInfo.InvariantCulture, $"{Host}:{Port}");
        HashKey = hashKey ?? Authority;
        Key = string.Concat(Scheme, "://", Authority);
    }

    /// <summary><c>http</c> or <c>https</c>, lower case.</summary>
    public string Scheme { get; }

    /// <summary>The host name (lower case) or IP address (IPv6 in canonical form, without brackets).</summary>
    public string Host { get; }

    /// <summary>The TCP port.</summary>
    public int Port { get; }

    /// <summary>The relative weight (at least 1).</summary>
    public int Weight { get; }

    /// <summary>The priority level: lower is preferred; higher levels are fallbacks used when no lower-level endpoint is available.</summary>
    public int Priority { get; }

    /// <summary>The zone or locality, if the resolver knows it.</summary>
    public string? Zone { get; }

    /// <summary>Labels the resolver attached.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary><c>host:port</c>, with brackets around an IPv6 address: what a URI and a Host header carry.</summary>
    public string Authority { get; }

    /// <summary>The key consistent-hashing balancers place this endpoint by (<c>host:port</c> unless the resolver set one).</summary>
    public string HashKey { get; }

    /// <summary>The endpoint's identity, <c>scheme://host:port</c> in canonical form: a client keeps one record per key.</summary>
    public string Key { get; }

    /// <summary>Whether <see cref="Host"/> is an IP address rather than a name.</summary>
    public bool IsIPAddress => IPAddress.TryParse(Host, out var ip) && ip.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6;

    /// <summary>
    /// Parses <c>http://host:port</c>, <c>https://host:port</c> or <c>host:port</c> (scheme <paramref name="defaultScheme"/>).
    /// A URI without a port takes its scheme's default port.
    /// </summary>
    /// <exception cref="FormatException">The text is not an endpoint address; the message says why.</exception>
    public static EndpointAddress Parse(string address, string defaultScheme = "http", int weight = 1)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (!TryParse(address, defaultScheme, out var endpoint, out var error, weight))
        {
            throw new FormatException(error);
        }

        return endpoint;
    }

    /// <summary>Tries to parse an endpoint address; see <see cref="Parse(string, string, int)"/>.</summary>
    public static bool TryParse(string? address, string defaultScheme,
        [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out EndpointAddress? endpoint, out string? error, int weight = 1)
    {
        endpoint = null;
        error = null;
        var text = address?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            error = "An endpoint address is empty.";
            return false;
        }

        if (text.Contains("://", StringComparison.Ordinal))
        {
            if (!Uri.TryCreate(text, UriKind.Absolute, out var uri))
            {
                error = $"'{text}' is not a valid URI.";
                return false;
            }

            if (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
            {
                error = $"'{text}' has scheme '{uri.Scheme}'; an endpoint must be http or https.";
                return false;
            }

            if (uri.AbsolutePath.Length > 1 || uri.Query.Length > 0)
            {
                error = $"'{text}' has a path or query; an endpoint address is scheme, host and port only.";
                return false;
            }

            endpoint = new EndpointAddress(uri.Scheme, uri.Host, uri.Port, weight);
            return true;
        }

        // host:port, [v6]:port, or a bare IPv6 literal with a port after the last colon.
        int colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1)
        {
            error = $"'{text}' has no port; write host:port or a URI such as http://{text}:8080.";
            return false;
        }

        var host = text[..colon];
        if (host.Contains(':', StringComparison.Ordinal) && !(host.StartsWith('[') && host.EndsWith(']')))
        {
            error = $"'{text}' is ambiguous; write an IPv6 address in brackets, as [::1]:8080.";
            return false;
        }

        if (!int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
        {
            error = $"'{text}' has an invalid port; a port is a number from 1 to 65535.";
            return false;
        }

        endpoint = new EndpointAddress(defaultScheme, host, port, weight);
        return true;
    }

    /// <summary>Whether this address and <paramref name="other"/> have the same key, weight, priority, zone, labels and hash key.</summary>
    public bool Equals(EndpointAddress? other)
    {
        if (ReferenceEquals(this, other))
        {
            return true;
        }

        if (other is null || !string.Equals(Key, other.Key, StringComparison.Ordinal) || Weight != other.Weight || Priority != other.Priority
            || !string.Equals(Zone, other.Zone, StringComparison.Ordinal) || !string.Equals(HashKey, other.HashKey, StringComparison.Ordinal)
            || Metadata.Count != other.Metadata.Count)
        {
            return false;
        }

        foreach (var (name, value) in Metadata)
        {
            if (!other.Metadata.TryGetValue(name, out var otherValue) || !string.Equals(value, otherValue, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as EndpointAddress);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Key, Weight, Priority);

    /// <inheritdoc />
    public override string ToString() => Key;

    private static string CanonicalHost(string host)
    {
        var bare = host.Length > 1 && host[0] == '[' && host[^1] == ']' ? host[1..^1] : host;
        if (bare.Contains(':', StringComparison.Ordinal) && IPAddress.TryParse(bare, out var ip) && ip.AddressFamily == AddressFamily.InterNetworkV6)
        {
            return ip.ToString(); // RFC 5952: lower case, zeros compressed
        }

        return bare.ToLowerInvariant();
    }
}
