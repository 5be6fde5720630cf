using System.Collections.Concurrent;

namespace WebSdkConsumer;

/// <summary>
/// A custom resolver, as an application would write one: it knows a fixed set of services and publishes their
/// addresses once; it says nothing about any other name, so the next resolver can try.
/// </summary>
internal sealed class FixedEndpointResolver : IEndpointResolver
{
    public const string ResolverName = "fixed";

    private readonly FixedEndpoints _endpoints;

    public FixedEndpointResolver(FixedEndpoints endpoints)
    {
        _endpoints = endpoints;
    }

    public string Name => ResolverName;

    public IDisposable? Watch(EndpointQuery query, IEndpointObserver observer)
    {
        if (!_endpoints.Services.TryGetValue(query.ServiceName, out var addresses))
        {
            return null;
        }

        _endpoints.Watched.Enqueue(query.ServiceName);
        observer.OnEndpoints(addresses);
        return new NoWatch();
    }

    private sealed class NoWatch : IDisposable
    {
        public void Dispose()
        {
        }
    }
}

/// <summary>What <see cref="FixedEndpointResolver"/> publishes, and the services it was asked to watch.</summary>
internal sealed class FixedEndpoints
{
    public ConcurrentDictionary<string, IReadOnlyList<EndpointAddress>> Services { get; } = new(StringComparer.OrdinalIgnoreCase);

    public ConcurrentQueue<string> Watched { get; } = new();
}
