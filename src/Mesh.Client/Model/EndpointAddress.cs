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
    /// <param name="host">
    /// A DNS name (RFC 1123 labels; an internationalized name is converted to punycode) or an IP address (IPv4 as four
    /// decimal numbers, IPv6 with or without brackets): the grammar <see cref="TryParse(string?, string, string?, out EndpointAddress?, out string?, int)"/>
    /// documents. Kept in canonical form (lower case, RFC 5952).
    /// </param>
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

        if (!TryCanonicalHost(host, out var canonical, out var hostError))
        {
            throw new ArgumentException($"Endpoint host '{Describe(host)}' is rejected: the address {hostError}.", nameof(host));
        }

        Scheme = scheme.ToLowerInvariant();
        Host = canonical;
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
    /// A URI without a port takes its scheme's default port. The grammar is strict; see <see cref="TryParse(string?, string, string?, out EndpointAddress?, out string?, int)"/>.
    /// </summary>
    /// <exception cref="FormatException">The text is not an endpoint address; the message says why (and never quotes credentials).</exception>
    public static EndpointAddress Parse(string address, string defaultScheme = "http", int weight = 1)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (!TryParse(address, defaultScheme, source: null, weight, out var endpoint, out var error))
        {
            throw new FormatException(error);
        }

        return endpoint;
    }

    /// <summary>Tries to parse an endpoint address; see <see cref="TryParse(string?, string, string?, out EndpointAddress?, out string?, int)"/>.</summary>
    public static bool TryParse(string? address, string defaultScheme,
        [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out EndpointAddress? endpoint, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error) =>
        TryParse(address, defaultScheme, source: null, weight: 1, out endpoint, out error);

    /// <summary>
    /// Tries to parse an endpoint address, the one grammar every resolver's text goes through: <c>http://host:port</c>,
    /// <c>https://host:port</c> (a trailing <c>/</c> is allowed; a URI without a port takes its scheme's default port), or
    /// <c>host:port</c> with scheme <paramref name="defaultScheme"/>. The host is an IPv4 address (four decimal numbers,
    /// no leading zeros), an IPv6 address in brackets, or a DNS name of RFC 1123 labels (letters, digits and <c>-</c>,
    /// 1 to 63 characters each, at most 253 in all; an internationalized name is converted to punycode). The port is 1 to
    /// 65535. User information (<c>user:password@</c>), a path, a query and a fragment are rejected. Never throws.
    /// </summary>
    /// <param name="address">The text.</param>
    /// <param name="defaultScheme">The scheme of a <c>host:port</c> value: <c>http</c> or <c>https</c>.</param>
    /// <param name="source">Where the text came from (a configuration key such as <c>Services:catalog:http:0</c>), named in
    /// the error; <see langword="null"/> for none.</param>
    /// <param name="endpoint">The address, when the text is one.</param>
    /// <param name="error">
    /// Why the text is not an address: <c>'source' is 'text'; reason.</c> The quoted text never shows user information,
    /// a query or a fragment (they are replaced by <c>***</c>), so the message may be logged and shown.
    /// </param>
    /// <param name="weight">The address's weight, at least 1.</param>
    public static bool TryParse(string? address, string defaultScheme, string? source,
        [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out EndpointAddress? endpoint, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error, int weight = 1) =>
        TryParse(address, defaultScheme, source, weight, out endpoint, out error);

    private static bool TryParse(string? address, string defaultScheme, string? source, int weight,
        [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out EndpointAddress? endpoint, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error)
    {
        error = null;
        var text = address?.Trim();
        string? reason = TryParseCore(text, defaultScheme, weight, out var parsed);
        if (reason is null && parsed is not null)
        {
            endpoint = parsed;
            return true;
        }

        endpoint = null;
        string shown = Describe(text);
        error = source is null ? $"'{shown}' {reason}." : $"'{source}' is '{shown}'; {reason}.";
        return false;
    }

    /// <summary>
    /// <paramref name="text"/> as messages may quote it: user information, query and fragment replaced by <c>***</c>,
    /// control characters by <c>?</c>, and at most 200 characters.
    /// </summary>
    internal static string Describe(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return string.Empty;
        }

        int schemeEnd = text.IndexOf("://", StringComparison.Ordinal);
        int authorityStart = schemeEnd < 0 ? 0 : schemeEnd + 3;
        int authorityEnd = text.IndexOfAny(s_authorityEnd, authorityStart);
        if (authorityEnd < 0)
        {
            authorityEnd = text.Length;
        }

        int at = text.LastIndexOf('@', authorityEnd - 1, authorityEnd - authorityStart);
        var shown = new System.Text.StringBuilder(text.Length);
        shown.Append(text, 0, authorityStart);
        if (at >= 0)
        {
            shown.Append("***");
            shown.Append(text, at, authorityEnd - at);
        }
        else
        {
            shown.Append(text, authorityStart, authorityEnd - authorityStart);
        }

        // The rest: a path is shown up to a query or fragment, which may carry tokens.
        int secret = text.IndexOfAny(['?', '#'], authorityEnd);
        if (secret < 0)
        {
            shown.Append(text, authorityEnd, text.Length - authorityEnd);
        }
        else
        {
            shown.Append(text, authorityEnd, secret - authorityEnd).Append(text[secret]).Append("***");
        }

        for (int i = 0; i < shown.Length; i++)
        {
            if (char.IsControl(shown[i]))
            {
                shown[i] = '?';
            }
        }

        return shown.Length <= 200 ? shown.ToString() : string.Concat(shown.ToString(0, 200), "...");
    }

    private static readonly char[] s_authorityEnd = ['/', '?', '#'];

    /// <summary>Parses; returns null, or why the text is not an address (a phrase that does not quote the text).</summary>
    private static string? TryParseCore(string? text, string defaultScheme, int weight, out EndpointAddress? endpoint)
    {
        endpoint = null;
        if (string.IsNullOrEmpty(text))
        {
            return "is empty; an endpoint address is host:port or a URI such as http://host:8080";
        }

        if (weight < 1)
        {
            return "has weight " + weight.ToString(CultureInfo.InvariantCulture) + "; a weight is at least 1";
        }

        string scheme;
        string authority;
        bool portRequired;
        int schemeEnd = text.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd >= 0)
        {
            scheme = text[..schemeEnd];
            if (!IsHttpScheme(scheme))
            {
                return "has scheme '" + Describe(scheme) + "'; an endpoint must be http or https";
            }

            var rest = text.AsSpan(schemeEnd + 3);
            int end = rest.IndexOfAny(s_authorityEnd);
            authority = (end < 0 ? rest : rest[..end]).ToString();
            if (end >= 0 && !(rest.Length - end == 1 && rest[end] == '/'))
            {
                return "has a path, query or fragment; an endpoint address is scheme, host and port only";
            }

            portRequired = false;
        }
        else
        {
            if (!IsHttpScheme(defaultScheme))
            {
                return "cannot take scheme '" + Describe(defaultScheme) + "'; an endpoint must be http or https";
            }

            scheme = defaultScheme;
            authority = text;
            if (authority.AsSpan().IndexOfAny(s_authorityEnd) >= 0 && !authority.Contains('@', StringComparison.Ordinal))
            {
                return "has a path, query or fragment; an endpoint address is host:port only";
            }

            portRequired = true;
        }

        if (authority.Contains('@', StringComparison.Ordinal))
        {
            return "has user information (a name or password before '@'); an endpoint address carries no credentials";
        }

        string host;
        ReadOnlySpan<char> portText;
        if (authority.StartsWith('['))
        {
            int close = authority.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                return "has an unclosed '['; write an IPv6 address as [::1]:8080";
            }

            host = authority[..(close + 1)];
            var after = authority.AsSpan(close + 1);
            if (after.Length > 0 && after[0] != ':')
            {
                return "has text after the IPv6 address; write it as [::1]:8080";
            }

            portText = after.Length > 0 ? after[1..] : [];
            if (after.Length == 1)
            {
                return "has an invalid port; a port is a number from 1 to 65535";
            }
        }
        else
        {
            int colon = authority.LastIndexOf(':');
            host = colon < 0 ? authority : authority[..colon];
            portText = colon < 0 ? [] : authority.AsSpan(colon + 1);
            if (host.Contains(':', StringComparison.Ordinal))
            {
                return "is ambiguous; write an IPv6 address in brackets, as [::1]:8080";
            }

            if (colon == authority.Length - 1)
            {
                return "has an invalid port; a port is a number from 1 to 65535";
            }
        }

        int port;
        if (portText.IsEmpty)
        {
            if (portRequired)
            {
                return "has no port; write host:port or a URI such as http://host:8080";
            }

            port = string.Equals(scheme, Uri.UriSchemeHttps, StringComparison.OrdinalIgnoreCase) ? 443 : 80;
        }
        else if (portText.Length > 5 || !int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535)
        {
            return "has an invalid port; a port is a number from 1 to 65535";
        }

        if (host.Length == 0)
        {
            return "has no host";
        }

        if (!TryCanonicalHost(host, out var canonical, out var hostError))
        {
            return hostError;
        }

        endpoint = new EndpointAddress(scheme, canonical, port, weight);
        return null;
    }

    private static bool IsHttpScheme(string? scheme) =>
        string.Equals(scheme, Uri.UriSchemeHttp, StringComparison.OrdinalIgnoreCase) || string.Equals(scheme, Uri.UriSchemeHttps, StringComparison.OrdinalIgnoreCase);

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

    private static readonly IdnMapping s_idn = new() { UseStd3AsciiRules = true };

    /// <summary>
    /// The canonical form of a host, or why it is not one: an IPv6 address (brackets optional) in its RFC 5952 form, an
    /// IPv4 address of four decimal numbers without leading zeros, or a DNS name of RFC 1123 labels in lower case
    /// (internationalized names in punycode). A name whose last label is numeric must be an IPv4 address, so
    /// <c>127.1</c> or <c>0x7f.0.0.1</c> never reaches a parser that would read it as one.
    /// </summary>
    internal static bool TryCanonicalHost(string host, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? canonical,
        [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error)
    {
        canonical = null;
        error = null;
        bool bracketed = host.Length > 1 && host[0] == '[' && host[^1] == ']';
        var bare = bracketed ? host[1..^1] : host;
        if (bracketed || bare.Contains(':', StringComparison.Ordinal))
        {
            if (bare.Contains('%', StringComparison.Ordinal) || !IPAddress.TryParse(bare, out var ip) || ip.AddressFamily != AddressFamily.InterNetworkV6)
            {
                error = "has a host that is not an IPv6 address (zone IDs such as %eth0 are not supported)";
                return false;
            }

            canonical = ip.ToString(); // RFC 5952: lower case, zeros compressed
            return true;
        }

        var ascii = bare;
        if (!System.Text.Ascii.IsValid(bare))
        {
            try
            {
                ascii = s_idn.GetAscii(bare);
            }
            catch (Exception ex) when (ex is ArgumentException or PlatformNotSupportedException)
            {
                error = "has a host that is not a valid internationalized domain name";
                return false;
            }
        }

        ascii = ascii.ToLowerInvariant();
        if (ascii.Length > 253)
        {
            error = "has a host name longer than 253 characters";
            return false;
        }

        int lastDot = ascii.LastIndexOf('.');
        var lastLabel = ascii.AsSpan(lastDot + 1);
        if (!lastLabel.IsEmpty && IsDigits(lastLabel))
        {
            if (!IsDottedQuad(ascii))
            {
                error = "has a numeric host that is not an IPv4 address (four numbers from 0 to 255, without leading zeros)";
                return false;
            }

            canonical = ascii;
            return true;
        }

        foreach (var range in ascii.AsSpan().Split('.'))
        {
            var label = ascii.AsSpan(range);
            if (label.IsEmpty || label.Length > 63 || label[0] == '-' || label[^1] == '-')
            {
                error = "has a host that is not a DNS name (labels of 1 to 63 letters, digits or '-', not starting or ending with '-', separated by single dots)";
                return false;
            }

            foreach (char c in label)
            {
                if (!char.IsAsciiLetterOrDigit(c) && c != '-')
                {
                    error = "has a host that is not a DNS name (only letters, digits, '-' and '.' may appear in a host)";
                    return false;
                }
            }
        }

        canonical = ascii;
        return true;
    }

    private static bool IsDigits(ReadOnlySpan<char> text)
    {
        foreach (char c in text)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsDottedQuad(string text)
    {
        int parts = 0;
        foreach (var range in text.AsSpan().Split('.'))
        {
            var part = text.AsSpan(range);
            if (++parts > 4 || part.IsEmpty || part.Length > 3 || !IsDigits(part) || (part.Length > 1 && part[0] == '0')
                || int.Parse(part, NumberStyles.None, CultureInfo.InvariantCulture) > 255)
            {
                return false;
            }
        }

        return parts == 4;
    }
}
