using Mesh.Client.Discovery;
using Mesh.Client.Health;
using Mesh.Client.Routing;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Diagnostics;

/// <summary>
/// Telemetry of one service as one client uses it: the single place a <see cref="ServiceState"/>, the request path,
/// health and resilience report to. Each method records the metric, the trace event and the log line that belong to
/// one event, so callers make one call per event and cannot forget one of the three.
/// </summary>
/// <remarks>
/// <para>Request-path methods (<see cref="OnAttemptStarting"/>, <see cref="OnAttemptCompleted"/>, <see cref="OnRetry"/>,
/// <see cref="OnHedge"/>) are lock-free and allocate nothing when no listener is attached.</para>
/// <para>State changes are not reported by the code that makes them but observed where they are published
/// (<see cref="OnPublished"/>): whatever ejects an endpoint or marks it unhealthy, the service republishes its routable
/// set, and the difference to the previous publication is what gets logged and counted. That keeps one transition one
/// log line, however many paths lead to it.</para>
/// </remarks>
internal sealed class ServiceTelemetry
{
    private readonly MeshMetrics? _metrics;
    private readonly ILogger _logger;
    private Dictionary<string, Verdicts> _states = new(StringComparer.Ordinal);
    private bool _panic;

    public ServiceTelemetry(string clientName, string serviceName, ILogger logger, MeshMetrics? metrics)
    {
        ClientName = clientName;
        ServiceName = serviceName;
        _logger = logger;
        _metrics = metrics;
    }

    public string ClientName { get; }

    public string ServiceName { get; }

    /// <summary>An attempt is about to be sent to <paramref name="endpoint"/>; <paramref name="attempt"/> is 1 for the first.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void OnAttemptStarting(Endpoint endpoint, int attempt) => MeshTracing.TagAttempt(ServiceName, endpoint, attempt);

    /// <summary>An attempt ended (its lease completed) after <paramref name="elapsed"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void OnAttemptCompleted(Endpoint endpoint, AttemptOutcome outcome, TimeSpan elapsed) =>
        _metrics?.RecordAttempt(this, endpoint, outcome, elapsed);

    /// <summary>
    /// A request is retried: attempt <paramref name="nextAttempt"/> follows one that ended with <paramref name="outcome"/>
    /// on <paramref name="failedEndpoint"/>.
    /// </summary>
    public void OnRetry(Endpoint? failedEndpoint, AttemptOutcome outcome, int nextAttempt)
    {
        _metrics?.RecordRetry(this, outcome);
        MeshTracing.AddRetryEvent(ServiceName, failedEndpoint, outcome, nextAttempt);
    }

    /// <summary>A hedged attempt (number <paramref name="attempt"/>) starts while an earlier one is outstanding.</summary>
    public void OnHedge(int attempt)
    {
        _metrics?.RecordHedge(this);
        MeshTracing.AddHedgeEvent(ServiceName, attempt);
    }

    /// <summary>A retry or hedge was wanted but the retry budget is spent.</summary>
    public void OnRetryBudgetExhausted()
    {
        _metrics?.RecordRetryBudgetExhausted(this);
        MeshLog.RetryBudgetExhausted(_logger, ServiceName);
    }

    /// <summary>A heartbeat probe of <paramref name="endpoint"/> finished. Verdict changes are logged by <see cref="OnPublished"/>.</summary>
    public void OnHeartbeat(Endpoint endpoint, bool healthy, TimeSpan elapsed) =>
        _metrics?.RecordHeartbeat(this, endpoint, healthy, elapsed);

    /// <summary>A resolver snapshot changed the service's endpoints (or was the first).</summary>
    public void OnEndpointsUpdated(string resolver, int count)
    {
        _metrics?.RecordResolverUpdate(this, resolver);
        MeshLog.EndpointsUpdated(_logger, ServiceName, resolver, count);
    }

    /// <summary>A resolver refresh failed; <paramref name="isNewError"/> is false when it repeats the previous error (not logged again).</summary>
    public void OnResolverError(string resolver, Exception error, bool isNewError)
    {
        _metrics?.RecordResolverError(this, resolver);
        if (isNewError)
        {
            MeshLog.ResolverFailed(_logger, ServiceName, resolver, error.Message, error);
        }
    }

    /// <summary>A resolver delivered a snapshot after failing.</summary>
    public void OnResolverRecovered(string resolver) => MeshLog.ResolverRecovered(_logger, ServiceName, resolver);

    /// <summary>
    /// The service published <paramref name="published"/>: logs and counts every change of an endpoint's passive
    /// opinion (ejected, re-admitted) and active opinion (unhealthy, healthy) since the last publication, and entering
    /// or leaving panic. Called under the service's write lock, so never concurrently.
    /// </summary>
    public void OnPublished(EndpointSet published)
    {
        var previous = _states;
        var next = new Dictionary<string, Verdicts>(published.Count, StringComparer.Ordinal);
        int available = 0;
        foreach (var endpoint in published.Endpoints)
        {
            var health = endpoint.Health;
            var now = new Verdicts(health.Passive == HealthOpinion.Unhealthy, health.Active == HealthOpinion.Unhealthy);
            next[endpoint.Key] = now;
            available += now.Ejected || now.Unhealthy ? 0 : 1;
            previous.TryGetValue(endpoint.Key, out var was); // a new endpoint starts with no adverse verdict
            if (now.Ejected != was.Ejected)
            {
                if (now.Ejected)
                {
                    _metrics?.RecordEjection(this, endpoint);
                    MeshLog.EndpointEjected(_logger, ServiceName, endpoint.Authority);
                }
                else
                {
                    MeshLog.EndpointReadmitted(_logger, ServiceName, endpoint.Authority);
                }
            }

            if (now.Unhealthy != was.Unhealthy)
            {
                if (now.Unhealthy)
                {
                    MeshLog.EndpointUnhealthy(_logger, ServiceName, endpoint.Authority);
                }
                else
                {
                    MeshLog.EndpointHealthy(_logger, ServiceName, endpoint.Authority);
                }
            }
        }

        _states = next;
        if (published.IsPanic != _panic)
        {
            _panic = published.IsPanic;
            if (_panic)
            {
                MeshLog.PanicEntered(_logger, ServiceName, available, published.Count);
            }
            else
            {
                MeshLog.PanicLeft(_logger, ServiceName, available, published.Count);
            }
        }
    }

    /// <summary>The adverse verdicts of an endpoint's two health opinions.</summary>
    private readonly record struct Verdicts(bool Ejected, bool Unhealthy);
}
