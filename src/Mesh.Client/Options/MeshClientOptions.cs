namespace Mesh.Client;

/// <summary>
/// Options for the mesh as a whole, bound from the configuration section <c>Mesh</c> when an
/// <c>IConfiguration</c> is registered.
/// </summary>
/// <remarks>
/// Invalid values fail start-up with a message naming the key, and so do keys under <c>Mesh</c> that name no setting
/// and enums given as numbers. The values reload live with configuration: <see cref="PassThroughUnknownHosts"/> from
/// the next request, <see cref="ServiceIdleTimeout"/> from the next idle sweep, <see cref="IncludeEndpointInMetrics"/>
/// from the next measurement; each service's <c>Mesh:Services:&lt;name&gt;</c> entry on its own. A reloaded value that
/// fails validation is rejected with the start-up message, logged once, listed in
/// <c>MeshSnapshot.RejectedConfiguration</c>, and the last good options stay in force. The mesh reads these options
/// through its own reload, not through <c>IOptionsMonitor&lt;MeshClientOptions&gt;</c>.
/// </remarks>
public sealed class MeshClientOptions
{
    /// <summary>The configuration section these options bind from: <c>Mesh</c>.</summary>
    public const string SectionName = "Mesh";

    /// <summary>
    /// Per-service options as configured under <c>Mesh:Services:&lt;service&gt;</c>, keyed by service name
    /// (case-insensitive). Validated at start-up; a client's <c>AddMeshHandler</c> delegate applies on top.
    /// </summary>
    public IDictionary<string, MeshServiceOptions> Services { get; } =
        new Dictionary<string, MeshServiceOptions>(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// What happens to a request whose host no resolver knows. <see langword="false"/> (the default): it fails at once
    /// with <see cref="UnknownServiceException"/>, so a misspelled service name never turns into a DNS lookup of a
    /// made-up host. <see langword="true"/>: the request goes out unchanged, as if the mesh were not there; set this
    /// when a mesh-enabled client (for example through <c>ConfigureHttpClientDefaults</c>) also calls outside hosts.
    /// </summary>
    public bool PassThroughUnknownHosts { get; set; }

    /// <summary>
    /// Whether per-request and per-endpoint metrics carry the endpoint (<c>mesh.endpoint</c>, its <c>host:port</c>).
    /// The tag takes one value per endpoint a service has had, which is what makes per-endpoint dashboards possible and
    /// what a very large service (thousands of endpoints) may not want to pay for in its metrics backend. Default:
    /// <see langword="true"/>.
    /// </summary>
    public bool IncludeEndpointInMetrics { get; set; } = true;

    /// <summary>
    /// How long a service may go unused before the mesh forgets it: its resolver watch (DNS polling, Kubernetes watch)
    /// and heartbeats stop, and its load and health state is dropped; the next request creates it again and waits for
    /// its first resolution. <see cref="Timeout.InfiniteTimeSpan"/> keeps every service for the client's lifetime.
    /// Default: 10 minutes (at least 1 second).
    /// </summary>
    public TimeSpan ServiceIdleTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Checks the mesh-wide values (not <see cref="Services"/>); one message per bad value, naming the key.</summary>
    internal IReadOnlyList<string> ValidateMeshWide()
    {
        var errors = new List<string>();
        if (ServiceIdleTimeout != Timeout.InfiniteTimeSpan && ServiceIdleTimeout < TimeSpan.FromSeconds(1))
        {
            errors.Add(MeshServiceOptions.Bad(SectionName, nameof(ServiceIdleTimeout), ServiceIdleTimeout,
                "at least 00:00:01, or -00:00:00.001 (infinite) to never forget a service"));
        }

        return errors;
    }

    /// <summary>Values configuration held that could not be converted, reported by start-up validation.</summary>
    internal List<string> BindingErrors { get; } = [];
}
