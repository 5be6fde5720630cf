namespace Mesh.Client.Discovery;

/// <summary>
/// Pluggable discovery: turns a logical service name into endpoint snapshots, published over time.
/// </summary>
/// <remarks>
/// <para>
/// Resolvers are tried in the order they were registered (configuration first, as <c>AddMeshClient</c> adds it), then
/// the Microsoft.Extensions.ServiceDiscovery providers in DI, always last; the first whose <see cref="Watch"/> returns a
/// watch owns the service (a service can also name its resolver: <c>Mesh:Services:&lt;name&gt;:Resolver</c>). A resolver that does
/// not know a name returns <see langword="null"/> at once, so the next one can try; it must not claim names it can
/// only guess at (a misspelled service must surface as <see cref="UnknownServiceException"/>, not as a lookup of a
/// made-up host).
/// </para>
/// <para>
/// After <see cref="Watch"/>, the resolver publishes complete snapshots to the observer, first as soon as it can and
/// then whenever they change (by watching or polling). It never throws into the request path: a failed refresh is
/// reported with <see cref="IEndpointObserver.OnError(Exception)"/>, and the service keeps the last good snapshot.
/// </para>
/// </remarks>
public interface IEndpointResolver
{
    /// <summary>The name services use to select this resolver, and that error messages show (for example <c>configuration</c>).</summary>
    string Name { get; }

    /// <summary>
    /// Starts watching <paramref name="query"/>'s service, or returns <see langword="null"/> when this resolver does not
    /// know it. Must not block; the first snapshot may arrive later, on any thread.
    /// </summary>
    /// <returns>A handle that stops the watch when disposed, or <see langword="null"/>.</returns>
    IDisposable? Watch(EndpointQuery query, IEndpointObserver observer);
}

/// <summary>Receives a resolver's snapshots for one service.</summary>
public interface IEndpointObserver
{
    /// <summary>A complete snapshot of the service's endpoints (not a delta). An empty list means the service has none.</summary>
    void OnEndpoints(IReadOnlyList<EndpointAddress> endpoints);

    /// <summary>A refresh failed; the previous snapshot stays in force.</summary>
    void OnError(Exception exception);
}

/// <summary>What a resolver is asked to resolve.</summary>
public sealed class EndpointQuery
{
    /// <summary>Creates a query.</summary>
    public EndpointQuery(string serviceName, IReadOnlyList<string> schemes, string? endpointName = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(serviceName);
        ArgumentNullException.ThrowIfNull(schemes);
        ServiceName = serviceName;
        Schemes = schemes;
        EndpointName = endpointName;
    }

    /// <summary>The logical service name: the request URI's host (<c>catalog</c> in <c>http://catalog/items</c>).</summary>
    public string ServiceName { get; }

    /// <summary>
    /// The schemes the caller accepts, in order of preference: <c>["http"]</c> for <c>http://catalog</c>,
    /// <c>["https", "http"]</c> for <c>https+http://catalog</c> (Microsoft.Extensions.ServiceDiscovery's notation).
    /// </summary>
    public IReadOnlyList<string> Schemes { get; }

    /// <summary>A named endpoint of the service (<c>dashboard</c> in <c>http://_dashboard.catalog</c>), if the URI names one.</summary>
    public string? EndpointName { get; }

    /// <inheritdoc />
    public override string ToString() => EndpointName is null ? ServiceName : $"_{EndpointName}.{ServiceName}";
}
