namespace Mesh.Client.Discovery;

/// <summary>
/// Pluggable traffic policy: publishes a service's routes (<see cref="MeshRoute"/>) over time, from a control plane
/// such as Kubernetes HTTPRoutes. Routes in configuration (<c>Mesh:Services:&lt;name&gt;:Routes</c>) or set in code take
/// precedence: a source's routes apply to a service whose options have none.
/// </summary>
/// <remarks>
/// <para>
/// Sources are asked in registration order when a client first uses a service; the first whose <see cref="Watch"/>
/// returns a watch owns the service's routes. Until that source publishes its first answer (routes, none, or an error),
/// requests to the service wait, as they wait for its first endpoints (<see cref="MeshServiceOptions.ResolutionTimeout"/>),
/// so no request is routed before the policy is known.
/// </para>
/// <para>
/// A source publishes complete lists and never throws into the request path. The mesh checks each list as it checks
/// configuration: a list with a bad route is rejected whole, logged, and the last good list stays in force.
/// </para>
/// </remarks>
public interface IMeshRouteSource
{
    /// <summary>The source's name, as logs and diagnostics show it (for example <c>kubernetes</c>).</summary>
    string Name { get; }

    /// <summary>
    /// Starts watching the routes of <paramref name="query"/>'s service, or returns <see langword="null"/> when this
    /// source cannot have routes for it. Must not block; the first answer may arrive later, on any thread.
    /// </summary>
    /// <returns>A handle that stops the watch when disposed, or <see langword="null"/>.</returns>
    IDisposable? Watch(EndpointQuery query, IMeshRouteObserver observer);
}

/// <summary>Receives a route source's answers for one service.</summary>
public interface IMeshRouteObserver
{
    /// <summary>
    /// The service's complete, ordered list of routes (not a delta). Empty: the service has none, and its requests go to
    /// its own endpoints.
    /// </summary>
    /// <param name="routes">The routes, in order; among matches of equal precedence the earlier route wins.</param>
    /// <param name="ignored">
    /// What the source's policy says and the mesh cannot do, left out of <paramref name="routes"/> (an unsupported filter
    /// or field), one message each: logged once and shown in diagnostics, so nothing is dropped silently.
    /// </param>
    void OnRoutes(IReadOnlyList<MeshRoute> routes, IReadOnlyList<string> ignored);

    /// <summary>The source could not read the routes; the last list stays in force (none, before the first).</summary>
    void OnError(Exception exception);
}
