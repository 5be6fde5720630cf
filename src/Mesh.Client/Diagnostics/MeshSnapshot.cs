using Mesh.Client.Health;

namespace Mesh.Client.Diagnostics;

/// <summary>What <see cref="IMeshDiagnostics.GetSnapshot"/> returns: every service, at one moment.</summary>
public sealed class MeshSnapshot
{
    /// <summary>When the snapshot was taken (the mesh's <see cref="TimeProvider"/>).</summary>
    public required DateTimeOffset Timestamp { get; init; }

    /// <summary>Every service every client has used, ordered by client name, then service name.</summary>
    public required IReadOnlyList<ServiceSnapshot> Services { get; init; }

    /// <summary>
    /// Configuration reloads the mesh rejected and that are still in place, one message per section (<c>Mesh</c>, or a
    /// <c>Mesh:Services:&lt;name&gt;</c>), each naming the bad keys as start-up would; the last good options stay in force
    /// meanwhile. Empty when the configuration in force is the configuration given. (A rejected endpoint list shows as
    /// its service's <see cref="ServiceSnapshot.LastError"/>.)
    /// </summary>
    public IReadOnlyList<string> RejectedConfiguration { get; init; } = [];
}

/// <summary>One service as one client uses it.</summary>
public sealed class ServiceSnapshot
{
    /// <summary>The <c>HttpClient</c> name the service is used through (empty for the default client).</summary>
    public required string ClientName { get; init; }

    /// <summary>The logical service name (<c>catalog</c> in <c>http://catalog/items</c>).</summary>
    public required string ServiceName { get; init; }

    /// <summary>The resolver that owns the service.</summary>
    public required string Resolver { get; init; }

    /// <summary>The balancing policy.</summary>
    public required string Balancer { get; init; }

    /// <summary>Whether the first resolution has arrived.</summary>
    public required bool IsResolved { get; init; }

    /// <summary>Whether the service is in panic: too few endpoints available, so every endpoint takes traffic.</summary>
    public required bool IsPanic { get; init; }

    /// <summary>The resolver's last error message, if its last refresh failed; null once a refresh succeeds.</summary>
    public string? LastError { get; init; }

    /// <summary>The endpoints, in the resolver's order.</summary>
    public required IReadOnlyList<EndpointSnapshot> Endpoints { get; init; }

    /// <summary>The service's routes in force (from configuration or a route source), in their given order; empty when it has none.</summary>
    public IReadOnlyList<RouteSnapshot> Routes { get; init; } = [];

    /// <summary>
    /// Where <see cref="Routes"/> come from: <c>options</c> (configuration or code), or the name of the route source that
    /// owns the service's routes (for example <c>kubernetes</c>); null when the service has no routes and no source.
    /// </summary>
    public string? RouteSource { get; init; }

    /// <summary>
    /// What operators should know about the routes: the route source's last error or rejected list (the last good routes
    /// stay in force meanwhile), what it left out as unsupported, and routes set aside because the options have their own.
    /// Empty when there is nothing to say.
    /// </summary>
    public IReadOnlyList<string> RouteWarnings { get; init; } = [];
}

/// <summary>One endpoint of a service: where it is, what health thinks of it, how loaded and how fast it is.</summary>
public sealed class EndpointSnapshot
{
    /// <summary>The endpoint's identity, <c>scheme://host:port</c>.</summary>
    public required string Key { get; init; }

    /// <summary><c>host:port</c>.</summary>
    public required string Address { get; init; }

    /// <summary>The zone, if known.</summary>
    public string? Zone { get; init; }

    /// <summary>The relative weight.</summary>
    public required int Weight { get; init; }

    /// <summary>The state derived from the two opinions.</summary>
    public required EndpointState State { get; init; }

    /// <summary>Whether balancers may pick it now: it is available, or the service is in panic.</summary>
    public required bool IsRoutable { get; init; }

    /// <summary>The passive opinion (from real traffic).</summary>
    public required HealthOpinion PassiveHealth { get; init; }

    /// <summary>The active opinion (from heartbeats).</summary>
    public required HealthOpinion ActiveHealth { get; init; }

    /// <summary>When the current ejection ends, while passive health has the endpoint ejected.</summary>
    public DateTimeOffset? EjectedUntil { get; init; }

    /// <summary>
    /// How many times in a row the endpoint has been ejected (each ejection lasts one base period longer); decays while
    /// it stays admitted.
    /// </summary>
    public int TimesEjected { get; init; }

    /// <summary>
    /// The latency estimate (Peak-EWMA) as balancers see it now, decayed for the time since its last sample; the seed
    /// latency before the first sample (<see cref="HasRttSample"/> false).
    /// </summary>
    public required TimeSpan RttEstimate { get; init; }

    /// <summary>Whether at least one latency sample was recorded.</summary>
    public required bool HasRttSample { get; init; }

    /// <summary>Attempts in flight now.</summary>
    public required int InFlight { get; init; }

    /// <summary>Attempts completed since the endpoint was first seen, whatever their outcome.</summary>
    public required long Requests { get; init; }

    /// <summary>
    /// Attempts, failures and latency over the last five minutes, oldest first (see <see cref="TrafficBucket"/>); empty
    /// buckets before the first attempt.
    /// </summary>
    public IReadOnlyList<TrafficBucket> Traffic { get; init; } = [];
}
