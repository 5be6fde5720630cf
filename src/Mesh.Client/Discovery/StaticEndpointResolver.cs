using Microsoft.Extensions.Options;

namespace Mesh.Client.Discovery;

/// <summary>Endpoints given in code, per service: <c>builder.AddStaticEndpoints("catalog", "http://127.0.0.1:5001")</c>.</summary>
internal sealed class StaticEndpointOptions
{
    /// <summary>Each service's endpoint addresses (<c>http://host:port</c>, <c>https://host:port</c> or <c>host:port</c>).</summary>
    public IDictionary<string, IList<string>> Services { get; } = new Dictionary<string, IList<string>>(StringComparer.OrdinalIgnoreCase);
}

/// <summary>
/// Resolves services whose endpoints were given in code with <c>AddStaticEndpoints</c>. The set never changes; tests,
/// samples and fixed topologies use it.
/// </summary>
internal sealed class StaticEndpointResolver : IEndpointResolver
{
    private readonly IOptionsMonitor<StaticEndpointOptions> _options;

    /// <summary>Creates the resolver.</summary>
    public StaticEndpointResolver(IOptionsMonitor<StaticEndpointOptions> options)
    {
        _options = options;
    }

    /// <inheritdoc />
    public string Name => "static";

    /// <inheritdoc />
    public IDisposable? Watch(EndpointQuery query, IEndpointObserver observer)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(observer);
        if (!_options.CurrentValue.Services.TryGetValue(query.ServiceName, out var addresses))
        {
            return null;
        }

        var endpoints = new List<EndpointAddress>(addresses.Count);
        foreach (var address in addresses)
        {
            // Each endpoint keeps its own scheme: a static list says exactly where to go.
            endpoints.Add(EndpointAddress.Parse(address));
        }

        observer.OnEndpoints(endpoints);
        return NoWatch.Instance;
    }

    private sealed class NoWatch : IDisposable
    {
        public static readonly NoWatch Instance = new();

        public void Dispose()
        {
        }
    }
}
