using Mesh.Client.Discovery;
using Mesh.Client.Health;
using Mesh.Client.Routing;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Diagnostics;

/// <summary>
/// Telemetry of one service as one client uses it: the single place a service state, the request path,
/// health and resilience report to. Each method records the metric, the trace event and the log line that belong to
/// one event, so callers make one call per event and cannot forget one of the three.
/// </summary>
/// <remarks>
/// <para>Request-path methods (<see cref="OnAttemptStarting"/>, <see cref="OnAttemptCompleted"/>, <see cref="OnRetry"/>,
/// <see cref="OnHedge"/>) are lock-free and allocate nothing when no listener is attached.</para>
/// <para>Health transitions are logged where they happen (<c>HealthLog</c>, with their reasons) and reach telemetry
/// through <see cref="OnHealthTransition"/>; state that always exists (endpoints by state, panic, in-flight) is observed
/// by <see cref="MeshMetrics"/> on collection.</para>
/// </remarks>
internal sealed class ServiceTelemetry
{
    private readonly MeshMetrics? _metrics;
    private readonly ILogger _logger;

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
    public void OnAttemptStarting(MeshEndpoint endpoint, int attempt) => MeshTracing.TagAttempt(ServiceName, endpoint, attempt);

    /// <summary>An attempt ended (its lease completed) after <paramref name="elapsed"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void OnAttemptCompleted(MeshEndpoint endpoint, AttemptOutcome outcome, TimeSpan elapsed, string? route = null) =>
        _metrics?.RecordAttempt(this, endpoint, outcome, elapsed, route);

    /// <summary>
    /// A request is retried: attempt <paramref name="nextAttempt"/> follows one that ended with <paramref name="outcome"/>
    /// on <paramref name="failedEndpoint"/>.
    /// </summary>
    public void OnRetry(MeshEndpoint? failedEndpoint, AttemptOutcome outcome, int nextAttempt)
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

    /// <summary>A heartbeat probe of <paramref name="endpoint"/> finished. Verdict changes are logged by the prober.</summary>
    public void OnHeartbeat(MeshEndpoint endpoint, bool healthy, TimeSpan elapsed) =>
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

    /// <summary>A route source's list was applied (or, <paramref name="shadowed"/>, kept aside: the options have routes of their own).</summary>
    public void OnRoutesUpdated(string source, int count, bool shadowed)
    {
        if (shadowed)
        {
            MeshLog.RoutesShadowed(_logger, ServiceName, source, count);
        }
        else
        {
            MeshLog.RoutesUpdated(_logger, ServiceName, source, count);
        }
    }

    /// <summary>A route source left out something its policy says (an unsupported field); logged once per message.</summary>
    public void OnRouteFieldIgnored(string source, string note) => MeshLog.RouteFieldIgnored(_logger, ServiceName, source, note);

    /// <summary>A route source failed to read, or published a list that was rejected; logged once per distinct message.</summary>
    public void OnRouteSourceError(string source, Exception error, bool isNewError)
    {
        if (isNewError)
        {
            MeshLog.RouteSourceFailed(_logger, ServiceName, source, error.Message, error);
        }
    }

    /// <summary>A resolver delivered a snapshot after failing.</summary>
    public void OnResolverRecovered(string resolver) => MeshLog.ResolverRecovered(_logger, ServiceName, resolver);

    /// <summary>
    /// A health transition happened (reported by the service state, which also logs it): counts
    /// ejections. Endpoints by state and panic are observed from the published state instead, so nothing else is
    /// recorded here.
    /// </summary>
    public void OnHealthTransition(in HealthTransition transition)
    {
        if (transition.Kind == HealthTransitionKind.Ejected && transition.Endpoint is { } endpoint)
        {
            _metrics?.RecordEjection(this, endpoint);
        }
    }
}
