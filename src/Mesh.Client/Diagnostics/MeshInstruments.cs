namespace Mesh.Client.Diagnostics;

/// <summary>
/// Instrument and tag names, in OpenTelemetry's style (lower-case, dotted, durations in seconds). docs/telemetry.md
/// lists them with the names a Prometheus exporter gives them; the Grafana dashboard queries those.
/// </summary>
internal static class MeshInstruments
{
    public const string Requests = "mesh.client.requests";
    public const string RequestDuration = "mesh.client.request.duration";
    public const string EndpointInFlight = "mesh.client.endpoint.in_flight";
    public const string Endpoints = "mesh.client.endpoints";
    public const string Panic = "mesh.client.panic";
    public const string Ejections = "mesh.client.ejections";
    public const string Retries = "mesh.client.retries";
    public const string Hedges = "mesh.client.hedges";
    public const string RetryBudgetExhausted = "mesh.client.retry_budget.exhausted";
    public const string ResolverUpdates = "mesh.client.resolver.updates";
    public const string ResolverErrors = "mesh.client.resolver.errors";
    public const string HeartbeatDuration = "mesh.client.heartbeat.duration";

    /// <summary>The name of the <c>HttpClient</c> (as given to <c>AddHttpClient</c>) the service is used through.</summary>
    public const string ClientTag = "mesh.client_name";

    /// <summary>The logical service name (<c>catalog</c> in <c>http://catalog/items</c>).</summary>
    public const string ServiceTag = "mesh.service";

    /// <summary>The endpoint's <c>host:port</c>; left out when <c>MeshClientOptions.IncludeEndpointInMetrics</c> is off.</summary>
    public const string EndpointTag = "mesh.endpoint";

    /// <summary>How an attempt ended: <c>success</c>, <c>failure_status</c>, <c>connect_failure</c>, <c>timeout</c>, <c>canceled</c>.</summary>
    public const string OutcomeTag = "mesh.outcome";

    /// <summary>The route an attempt went through (<c>Mesh:Services:&lt;service&gt;:Routes:&lt;n&gt;:Name</c>); absent without a route.</summary>
    public const string RouteTag = "mesh.route";

    /// <summary>An endpoint's state: <c>available</c>, <c>ejected</c>, <c>unhealthy</c>.</summary>
    public const string StateTag = "mesh.endpoint.state";

    /// <summary>The resolver that owns the service (<c>configuration</c>, <c>static</c>, <c>dns</c>, ...).</summary>
    public const string ResolverTag = "mesh.resolver";

    /// <summary>What a heartbeat concluded: <c>healthy</c> or <c>unhealthy</c>.</summary>
    public const string HeartbeatResultTag = "mesh.heartbeat.result";

    /// <summary>
    /// Bucket boundaries for the duration histograms, in seconds: those of .NET's <c>http.client.request.duration</c>,
    /// so mesh and HttpClient latencies line up on one dashboard.
    /// </summary>
    public static readonly IReadOnlyList<double> DurationBuckets =
        [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
}
