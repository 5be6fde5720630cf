namespace Mesh.Client.Resilience;

/// <summary>
/// What the resilience pipeline needs from the service it runs for: picking an endpoint, the service's status rules and
/// retry budget, and somewhere to report attempts. The service state implements it; Resilience/ knows nothing more of it.
/// </summary>
internal interface IAttemptHost
{
    /// <summary>The logical service name, for messages and telemetry.</summary>
    string ServiceName { get; }

    /// <summary>Which statuses count against an endpoint.</summary>
    FailureStatusSet FailureStatuses { get; }

    /// <summary>The budget every request deposits into and every retry or hedge withdraws from.</summary>
    RetryBudget RetryBudget { get; }

    /// <summary>Recent attempt latencies, when hedging waits for a percentile; otherwise null.</summary>
    LatencyHistogram? Latency { get; }

    /// <summary>
    /// Picks a routable endpoint for <paramref name="request"/> that is not in <paramref name="excluded"/>, taking an
    /// ejected endpoint's single probe slot when it offers one; null when there is none.
    /// </summary>
    MeshEndpoint? Pick(HttpRequestMessage request, ulong? hash, ReadOnlySpan<MeshEndpoint> excluded);

    /// <summary>An attempt is about to be sent (tracing).</summary>
    void OnAttemptStarting(MeshEndpoint endpoint, int attempt);

    /// <summary>An attempt's response headers arrived, or it failed before them: metrics, latency history, early refresh.</summary>
    void OnAttemptCompleted(MeshEndpoint endpoint, AttemptOutcome outcome, TimeSpan latency);

    /// <summary>An attempt ended (with its body, when it had one) and left its endpoint: passive health counts its outcome.</summary>
    void OnAttemptEnded(MeshEndpoint endpoint, AttemptOutcome outcome);

    /// <summary>A retry was decided after <paramref name="failedEndpoint"/>'s attempt.</summary>
    void OnRetry(MeshEndpoint? failedEndpoint, AttemptOutcome outcome, int nextAttempt);

    /// <summary>A hedged attempt was launched.</summary>
    void OnHedge(int attempt);

    /// <summary>A retry or hedge was refused by the budget.</summary>
    void OnRetryBudgetExhausted();
}
