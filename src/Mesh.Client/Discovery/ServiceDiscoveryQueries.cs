using System.Globalization;
using System.Net;
using Microsoft.Extensions.ServiceDiscovery;

namespace Mesh.Client.Discovery;

/// <summary>
/// Microsoft.Extensions.ServiceDiscovery's (MESD's) rules, in one place: how a request URI becomes a query
/// (<see cref="ServiceEndpointQuery.TryParse"/> itself), and how a MESD <see cref="ServiceEndpoint"/> becomes the
/// address a request is sent to (as MESD's <c>ResolvingHttpDelegatingHandler</c> rewrites the request URI).
/// </summary>
internal static class ServiceDiscoveryQueries
{
    /// <summary>
    /// Parses the request's scheme and host with MESD's own parser: <c>https+http://catalog</c> accepts https, then
    /// http; <c>http://_dashboard.catalog</c> names endpoint <c>dashboard</c> of service <c>catalog</c>.
    /// </summary>
    public static EndpointQuery Parse(string scheme, string host)
    {
        string text = string.Concat(scheme, "://", host);
        if (!ServiceEndpointQuery.TryParse(text, out var parsed))
        {
            // Not reachable from a request URI (it was already a URI); keep the name as written.
            return new EndpointQuery(host, [scheme.ToLowerInvariant()]);
        }

        var schemes = new string[parsed.IncludedSchemes.Count];
        for (int i = 0; i < schemes.Length; i++)
        {
            schemes[i] = parsed.IncludedSchemes[i].ToLowerInvariant();
        }

        return new EndpointQuery(parsed.ServiceName, schemes, parsed.EndpointName);
    }

    /// <summary>The MESD query for <paramref name="query"/>: <c>https+http://_dashboard.catalog</c>.</summary>
    public static ServiceEndpointQuery ToServiceEndpointQuery(EndpointQuery query)
    {
        string scheme = query.Schemes.Count == 0 ? string.Empty : string.Join('+', query.Schemes) + "://";
        string host = query.EndpointName is null ? query.ServiceName : $"_{query.EndpointName}.{query.ServiceName}";
        if (!ServiceEndpointQuery.TryParse(scheme + host, out var parsed))
        {
            throw new FormatException($"'{scheme}{host}' is not a service discovery query.");
        }

        return parsed;
    }

    /// <summary>
    /// The address MESD would send a request for <paramref name="query"/> to, given <paramref name="endpoint"/>. A URI
    /// endpoint keeps its scheme, host and port (its scheme's default port if it has none). A host or IP endpoint takes
    /// the request's scheme (the first one of <c>https+http</c>, which must then be allowed) and, without a port, that
    /// scheme's default port. False, with a reason, for what the mesh cannot route to: a scheme other than http or
    /// https, a URI with a path or query (MESD would prefix the request path; the mesh sends to scheme, host and port
    /// only), or another kind of <see cref="EndPoint"/>.
    /// </summary>
    public static bool TryMap(ServiceEndpoint endpoint, EndpointQuery query, ServiceDiscoveryOptions options,
        [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out EndpointAddress? address, out string? error)
    {
        address = null;
        error = null;
        string scheme;
        string host;
        int port;
        switch (endpoint.EndPoint)
        {
            case UriEndPoint { Uri: var uri }:
                if (uri.AbsolutePath.Length > 1 || uri.Query.Length > 0 || uri.Fragment.Length > 0 || uri.UserInfo.Length > 0)
                {
                    error = "it has a user name or password, a path, a query or a fragment; a mesh endpoint is scheme, host and port only";
                    return false;
                }

                scheme = uri.Scheme;
                host = uri.Host;
                port = uri.Port;
                break;
            case IPEndPoint ip:
                (scheme, error) = RequestScheme(query, options);
                host = ip.Address.ToString();
                port = ip.Port;
                break;
            case DnsEndPoint dns:
                (scheme, error) = RequestScheme(query, options);
                host = dns.Host;
                port = dns.Port;
                break;
            default:
                error = $"endpoints of type {endpoint.EndPoint.GetType().Name} are not supported";
                return false;
        }

        if (error is not null)
        {
            return false;
        }

        if (!string.Equals(scheme, Uri.UriSchemeHttp, StringComparison.OrdinalIgnoreCase)
            && !string.Equals(scheme, Uri.UriSchemeHttps, StringComparison.OrdinalIgnoreCase))
        {
            error = $"scheme '{scheme}'; a mesh endpoint is http or https";
            return false;
        }

        if (port <= 0)
        {
            port = string.Equals(scheme, Uri.UriSchemeHttps, StringComparison.OrdinalIgnoreCase) ? 443 : 80;
        }

        try
        {
            address = new EndpointAddress(scheme, host, port);
            return true;
        }
        catch (ArgumentException ex)
        {
            error = string.Create(CultureInfo.InvariantCulture, $"not an endpoint address: {ex.Message}");
            return false;
        }
    }

    private static (string Scheme, string? Error) RequestScheme(EndpointQuery query, ServiceDiscoveryOptions options)
    {
        if (query.Schemes.Count == 0)
        {
            return (Uri.UriSchemeHttp, null);
        }

        string first = query.Schemes[0];
        if (query.Schemes.Count > 1 && !options.AllowAllSchemes && !Contains(options.AllowedSchemes, first))
        {
            return (first, $"The scheme '{first}' is not allowed (ServiceDiscoveryOptions.AllowedSchemes).");
        }

        return (first, null);
    }

    private static bool Contains(IList<string> list, string value)
    {
        foreach (var item in list)
        {
            if (string.Equals(item, value, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
