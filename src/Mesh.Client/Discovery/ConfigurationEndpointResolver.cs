using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Primitives;
using Microsoft.Extensions.ServiceDiscovery;

namespace Mesh.Client.Discovery;

/// <summary>
/// Resolves services from configuration, in Microsoft.Extensions.ServiceDiscovery's (MESD's) schema and by its rules,
/// so an application that moves from it keeps its configuration as is:
/// <code>
/// "Services": {
///   "catalog": {
///     "http":  [ "127.0.0.1:5001", "http://10.0.0.7:8080" ],
///     "https": "https://catalog-1.internal:443"
///   }
/// }
/// </code>
/// </summary>
/// <remarks>
/// <para>
/// The section under <c>Services:&lt;service&gt;</c> is chosen as MESD's configuration provider chooses it: the
/// endpoint name from the URI (<c>http://_dashboard.catalog</c> → <c>dashboard</c>); otherwise the first that exists of
/// <c>default</c> and then the URI's schemes, in order (<c>https+http://catalog</c> tries <c>default</c>, <c>https</c>,
/// <c>http</c>), the schemes limited to <c>ServiceDiscoveryOptions.AllowedSchemes</c> unless <c>AllowAllSchemes</c>. A
/// value is a single string or an array; each is parsed by <c>ServiceEndpoint.TryParse</c>: <c>host</c>,
/// <c>host:port</c> or a URI. URI values are kept only when their scheme is one of the query's, and only those of the
/// most preferred scheme present; host values are always kept and take the request's scheme (the first of
/// <c>https+http</c>) and, without a port, its default port. The section name is MESD's
/// <c>ConfigurationServiceEndpointProviderOptions.SectionName</c> (<c>Services</c>).
/// </para>
/// <para>
/// Where MESD would send to something the mesh cannot (a URI with a path, a scheme other than http or https), the
/// value is reported as an error naming the key rather than routed differently. A service missing from configuration
/// is not claimed (MESD would hand it to its pass-through provider, a DNS lookup of the name; the mesh raises
/// <see cref="UnknownServiceException"/> unless <c>Mesh:PassThroughUnknownHosts</c>).
/// </para>
/// <para>
/// Changes apply live: the resolver follows the configuration's reload token and republishes, so adding or removing an
/// endpoint in <c>appsettings.json</c> takes effect without a restart. A bad value keeps the last good endpoints and
/// reports an error naming the key.
/// </para>
/// </remarks>
internal sealed class ConfigurationEndpointResolver : IEndpointResolver
{
    /// <summary>The default section services are read from: <c>Services</c>, as in MESD.</summary>
    public const string SectionName = "Services";

    private const string DefaultEndpointName = "default";

    private readonly IConfiguration? _configuration;
    private readonly ServiceDiscoveryOptions _options;
    private readonly string _sectionName;

    /// <summary>Creates the resolver over <paramref name="configuration"/>; with none it knows no service.</summary>
    /// <param name="configuration">The application's configuration.</param>
    /// <param name="options">MESD's options (allowed schemes); default: every scheme allowed.</param>
    /// <param name="sectionName">The section services are under; default <c>Services</c>.</param>
    public ConfigurationEndpointResolver(IConfiguration? configuration, ServiceDiscoveryOptions? options = null, string? sectionName = null)
    {
        _configuration = configuration;
        _options = options ?? new ServiceDiscoveryOptions();
        _sectionName = string.IsNullOrWhiteSpace(sectionName) ? SectionName : sectionName;
    }

    /// <inheritdoc />
    public string Name => "configuration";

    /// <inheritdoc />
    public IDisposable? Watch(EndpointQuery query, IEndpointObserver observer)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(observer);
        if (_configuration is null || !_configuration.GetSection(_sectionName).GetSection(query.ServiceName).Exists())
        {
            return null;
        }

        var configuration = _configuration;
        Publish(configuration, query, observer);
        return ChangeToken.OnChange(configuration.GetReloadToken, () => Publish(configuration, query, observer));
    }

    private void Publish(IConfiguration configuration, EndpointQuery query, IEndpointObserver observer)
    {
        if (TryRead(configuration, query, _options, out var endpoints, out var error, _sectionName))
        {
            observer.OnEndpoints(endpoints);
        }
        else
        {
            observer.OnError(new FormatException(error));
        }
    }

    /// <summary>
    /// Reads the endpoints <paramref name="query"/> selects, by MESD's rules. False, with a message naming the key, when
    /// a value is bad or the service's section disappeared.
    /// </summary>
    internal static bool TryRead(IConfiguration configuration, EndpointQuery query, ServiceDiscoveryOptions? options,
        out List<EndpointAddress> endpoints, out string? error, string sectionName = SectionName)
    {
        options ??= new ServiceDiscoveryOptions();
        endpoints = [];
        error = null;
        var service = configuration.GetSection(sectionName).GetSection(query.ServiceName);
        if (!service.Exists())
        {
            error = $"Configuration section '{sectionName}:{query.ServiceName}' was removed.";
            return false;
        }

        bool includeAllSchemes = options.AllowAllSchemes && query.Schemes.Count == 0;
        var schemes = options.ApplyAllowedSchemes(query.Schemes);
        var section = SelectSection(service, query, schemes);
        if (section is null)
        {
            // The service is known but has nothing for these schemes: an empty set, which fails requests fast.
            return true;
        }

        var values = new List<(string Key, string? Value)>();
        if (!string.IsNullOrWhiteSpace(section.Value))
        {
            values.Add((section.Path, section.Value));
        }
        else
        {
            foreach (var child in section.GetChildren())
            {
                if (!int.TryParse(child.Key, out _))
                {
                    error = $"'{child.Path}' is not an array element; '{section.Path}' must be an address or an array of addresses.";
                    return false;
                }

                values.Add((child.Path, child.Value));
            }
        }

        var parsed = new List<(string Key, string? Value, ServiceEndpoint Endpoint)>(values.Count);
        foreach (var (key, value) in values)
        {
            if (!TryParse(value, out var endpoint))
            {
                error = $"'{key}' is '{EndpointAddress.Describe(value)}': not an address; write host, host:port or a URI such as http://host:8080.";
                return false;
            }

            parsed.Add((key, value, endpoint));
        }

        // URI values: only the query's schemes, and of those the most preferred present (MESD's rule).
        int best = schemes.Count;
        foreach (var (_, _, endpoint) in parsed)
        {
            if (endpoint.EndPoint is UriEndPoint uri && IndexOf(schemes, uri.Uri.Scheme) is int rank && rank >= 0 && rank < best)
            {
                best = rank;
            }
        }

        foreach (var (key, value, endpoint) in parsed)
        {
            if (!includeAllSchemes && endpoint.EndPoint is UriEndPoint uri && IndexOf(schemes, uri.Uri.Scheme) is int rank && (rank < 0 || rank > best))
            {
                continue;
            }

            // The mesh's one address grammar for every value it uses: MESD's parser reads 127.0.0.1@evil.example:5101 as a
            // user name and a host, and drops a fragment without a word.
            if (!IsStrictAddress(value, key, out error))
            {
                return false;
            }

            if (!ServiceDiscoveryQueries.TryMap(endpoint, query, options, out var address, out var mapError))
            {
                error = $"'{key}' is '{EndpointAddress.Describe(value)}': {mapError}";
                return false;
            }

            endpoints.Add(address);
        }

        return true;
    }

    /// <summary>
    /// Whether <paramref name="value"/> follows <see cref="EndpointAddress"/>'s grammar: a URI or <c>host:port</c>, or a
    /// bare host (MESD gives it the scheme's default port). The message names the key and never quotes credentials.
    /// </summary>
    private static bool IsStrictAddress(string? value, string key, out string? error)
    {
        var text = value?.Trim();
        if (!string.IsNullOrEmpty(text) && !text.Contains("://", StringComparison.Ordinal) && text.IndexOf(':') < 0)
        {
            text = "http://" + text; // a bare host: checked as a URI with the default port
        }

        if (EndpointAddress.TryParse(text, Uri.UriSchemeHttp, key, out _, out error))
        {
            return true;
        }

        // Quote the value as written, not the URI it was checked as.
        error = error!.Replace($"'{EndpointAddress.Describe(text)}'", $"'{EndpointAddress.Describe(value)}'", StringComparison.Ordinal);
        return false;
    }

    /// <summary>Checks every value under <c>Services</c>; returns one message per bad value.</summary>
    internal static IReadOnlyList<string> Validate(IConfiguration configuration, ServiceDiscoveryOptions? options = null, string sectionName = SectionName)
    {
        var errors = new List<string>();
        foreach (var service in configuration.GetSection(sectionName).GetChildren())
        {
            foreach (var endpointSection in service.GetChildren())
            {
                // Each section read as a named endpoint, with its own scheme (or http): every value is checked.
                var schemes = endpointSection.Key is "http" or "https" ? new[] { endpointSection.Key } : ["http"];
                var query = new EndpointQuery(service.Key, schemes, endpointSection.Key);
                if (!TryRead(configuration, query, options, out _, out var error, sectionName) && error is not null)
                {
                    errors.Add(error);
                }
            }
        }

        return errors;
    }

    /// <summary>
    /// MESD's <see cref="ServiceEndpoint.TryParse"/>, where MESD fails (it throws for some values, such as
    /// <c>10.0.0.1:eighty</c>, which it takes for a relative URI) failing as a bad value.
    /// </summary>
    private static bool TryParse(string? value, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ServiceEndpoint? endpoint)
    {
        try
        {
            return ServiceEndpoint.TryParse(value, out endpoint) && endpoint.EndPoint is not UriEndPoint { Uri.IsAbsoluteUri: false };
        }
        catch (InvalidOperationException)
        {
            endpoint = null;
            return false;
        }
    }

    private static IConfigurationSection? SelectSection(IConfigurationSection service, EndpointQuery query, IReadOnlyList<string> schemes)
    {
        if (!string.IsNullOrWhiteSpace(query.EndpointName))
        {
            var named = service.GetSection(query.EndpointName);
            return named.Exists() ? named : null;
        }

        var fallback = service.GetSection(DefaultEndpointName);
        if (fallback.Exists())
        {
            return fallback;
        }

        foreach (var scheme in schemes)
        {
            var section = service.GetSection(scheme);
            if (section.Exists())
            {
                return section;
            }
        }

        return null;
    }

    private static int IndexOf(IReadOnlyList<string> list, string value)
    {
        for (int i = 0; i < list.Count; i++)
        {
            if (string.Equals(list[i], value, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }
}
