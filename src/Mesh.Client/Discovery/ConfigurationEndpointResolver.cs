using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Primitives;

namespace Mesh.Client.Discovery;

/// <summary>
/// Resolves services from configuration, in Microsoft.Extensions.ServiceDiscovery's schema, so an application that
/// moves from it keeps its configuration as is:
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
/// The section under <c>Services:&lt;service&gt;</c> is chosen as ServiceDiscovery chooses it: the endpoint name from the
/// URI (<c>http://_dashboard.catalog</c> → <c>dashboard</c>); otherwise the first of the URI's schemes that has a
/// section (<c>https+http://catalog</c> tries <c>https</c>, then <c>http</c>); otherwise <c>default</c>. A value is a single
/// string or an array; each is <c>host:port</c> (taking the section's scheme) or a URI. When the URI lists several
/// schemes, URI values of the most preferred scheme present are kept.
/// </para>
/// <para>
/// Changes apply live: the resolver follows the configuration's reload token and republishes, so adding or removing an
/// endpoint in <c>appsettings.json</c> takes effect without a restart. A bad value keeps the last good endpoints and
/// reports an error naming the key.
/// </para>
/// </remarks>
internal sealed class ConfigurationEndpointResolver : IEndpointResolver
{
    /// <summary>The configuration section services are read from: <c>Services</c>, as in Microsoft.Extensions.ServiceDiscovery.</summary>
    public const string SectionName = "Services";

    private readonly IConfiguration? _configuration;

    /// <summary>Creates the resolver over <paramref name="configuration"/>; with none it knows no service.</summary>
    public ConfigurationEndpointResolver(IConfiguration? configuration)
    {
        _configuration = configuration;
    }

    /// <inheritdoc />
    public string Name => "configuration";

    /// <inheritdoc />
    public IDisposable? Watch(EndpointQuery query, IEndpointObserver observer)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(observer);
        if (_configuration is null || !_configuration.GetSection(SectionName).GetSection(query.ServiceName).Exists())
        {
            return null;
        }

        var configuration = _configuration;
        Publish(configuration, query, observer);
        return ChangeToken.OnChange(configuration.GetReloadToken, () => Publish(configuration, query, observer));
    }

    private static void Publish(IConfiguration configuration, EndpointQuery query, IEndpointObserver observer)
    {
        if (TryRead(configuration, query, out var endpoints, out var error))
        {
            observer.OnEndpoints(endpoints);
        }
        else
        {
            observer.OnError(new FormatException(error));
        }
    }

    /// <summary>
    /// Reads the endpoints <paramref name="query"/> selects. False, with a message naming the key, when a value is bad
    /// or the service's section disappeared.
    /// </summary>
    internal static bool TryRead(IConfiguration configuration, EndpointQuery query, out List<EndpointAddress> endpoints, out string? error)
    {
        endpoints = [];
        error = null;
        var service = configuration.GetSection(SectionName).GetSection(query.ServiceName);
        if (!service.Exists())
        {
            error = $"Configuration section '{SectionName}:{query.ServiceName}' was removed.";
            return false;
        }

        var (section, sectionName) = SelectSection(service, query);
        if (section is null)
        {
            // The service is known but has nothing for these schemes: an empty set, which fails requests fast.
            return true;
        }

        string defaultScheme = sectionName is "http" or "https" ? sectionName : query.Schemes.Count > 0 && query.Schemes[0] is "http" or "https" ? query.Schemes[0] : "http";
        var values = new List<(string Key, string? Value)>();
        if (section.Value is not null)
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

        var parsed = new List<EndpointAddress>(values.Count);
        foreach (var (key, value) in values)
        {
            if (!EndpointAddress.TryParse(value, defaultScheme, out var endpoint, out var parseError))
            {
                error = $"'{key}' is '{value}': {parseError}";
                return false;
            }

            parsed.Add(endpoint);
        }

        // Several acceptable schemes: keep endpoints of the most preferred scheme present (ServiceDiscovery's rule).
        int best = int.MaxValue;
        foreach (var endpoint in parsed)
        {
            int rank = IndexOf(query.Schemes, endpoint.Scheme);
            best = rank >= 0 ? Math.Min(best, rank) : best;
        }

        foreach (var endpoint in parsed)
        {
            int rank = IndexOf(query.Schemes, endpoint.Scheme);
            if (query.Schemes.Count == 0 || rank == best || best == int.MaxValue)
            {
                endpoints.Add(endpoint);
            }
        }

        return true;
    }

    /// <summary>Checks every value under <c>Services</c>; returns one message per bad value.</summary>
    internal static IReadOnlyList<string> Validate(IConfiguration configuration)
    {
        var errors = new List<string>();
        foreach (var service in configuration.GetSection(SectionName).GetChildren())
        {
            foreach (var endpointSection in service.GetChildren())
            {
                var schemes = endpointSection.Key is "http" or "https" ? new[] { endpointSection.Key } : ["http"];
                var query = new EndpointQuery(service.Key, schemes, endpointSection.Key is "http" or "https" ? null : endpointSection.Key);
                if (!TryRead(configuration, query, out _, out var error) && error is not null)
                {
                    errors.Add(error);
                }
            }
        }

        return errors;
    }

    private static (IConfigurationSection? Section, string Name) SelectSection(IConfigurationSection service, EndpointQuery query)
    {
        if (query.EndpointName is { } named)
        {
            var section = service.GetSection(named);
            return section.Exists() ? (section, named) : (null, named);
        }

        foreach (var scheme in query.Schemes)
        {
            var section = service.GetSection(scheme);
            if (section.Exists())
            {
                return (section, scheme);
            }
        }

        var fallback = service.GetSection("default");
        return fallback.Exists() ? (fallback, "default") : (null, "default");
    }

    private static int IndexOf(IReadOnlyList<string> list, string value)
    {
        for (int i = 0; i < list.Count; i++)
        {
            if (string.Equals(list[i], value, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }

        return -1;
    }
}
