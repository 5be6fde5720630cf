namespace Mesh.Client.Diagnostics;

/// <summary>One route of a service (<c>Mesh:Services:&lt;name&gt;:Routes</c>) as it is in force: what it matches and where it sends.</summary>
public sealed class RouteSnapshot
{
    /// <summary>The route's name.</summary>
    public required string Name { get; init; }

    /// <summary>
    /// What the route matches, in short: its matches separated by <c> | </c> (any one holds), each one's conditions by
    /// <c>, </c> (all hold), for example <c>PathPrefix /api, header x-canary = true | POST</c>; <c>*</c> for every request.
    /// </summary>
    public required string Match { get; init; }

    /// <summary>Whether the split is sticky (the request hash picks the backend).</summary>
    public required bool IsSticky { get; init; }

    /// <summary>The backends, in configuration order.</summary>
    public required IReadOnlyList<RouteBackendSnapshot> Backends { get; init; }
}

/// <summary>One backend of a route: its configured and observed shares of the route's requests, and its recent traffic.</summary>
public sealed class RouteBackendSnapshot
{
    /// <summary>The mesh service the backend is.</summary>
    public required string Service { get; init; }

    /// <summary>The configured weight.</summary>
    public required int Weight { get; init; }

    /// <summary>The backend's weight over the route's total weight, 0 to 1.</summary>
    public required double ConfiguredShare { get; init; }

    /// <summary>
    /// Requests the route sent to this backend since the route's backends or weights last changed (a reload that leaves
    /// them as they were keeps the count).
    /// </summary>
    public required long Requests { get; init; }

    /// <summary>
    /// The backend's share of the route's requests since the route's backends or weights last changed, 0 to 1 (0 before the
    /// first). It differs from <see cref="ConfiguredShare"/> by chance, by stickiness, and when a backend with no routable
    /// endpoint gives its share to the others.
    /// </summary>
    public required double ObservedShare { get; init; }

    /// <summary>
    /// Attempts through this route on the backend, over the last five minutes (see <see cref="TrafficBucket"/>); the
    /// series goes on across reloads while the route keeps its name and the backend its service.
    /// </summary>
    public required IReadOnlyList<TrafficBucket> Traffic { get; init; }
}
