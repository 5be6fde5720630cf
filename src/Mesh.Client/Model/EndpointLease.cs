namespace Mesh.Client;

/// <summary>
/// One attempt in flight against an <see cref="MeshEndpoint"/>, from <see cref="MeshEndpoint.Begin(TimeProvider)"/> to
/// <see cref="Complete(AttemptOutcome)"/>. A value type: taking a lease allocates nothing.
/// </summary>
internal readonly struct EndpointLease
{
    private readonly TimeProvider _timeProvider;

    internal EndpointLease(MeshEndpoint endpoint, TimeProvider timeProvider, long startTimestamp)
    {
        Endpoint = endpoint;
        _timeProvider = timeProvider;
        StartTimestamp = startTimestamp;
    }

    /// <summary>The endpoint the attempt went to.</summary>
    public MeshEndpoint Endpoint { get; }

    /// <summary>When the attempt started, as a <see cref="TimeProvider.GetTimestamp"/> value.</summary>
    public long StartTimestamp { get; }

    /// <summary>
    /// Ends the attempt: one fewer in flight, and the latency (start to response headers) recorded into the
    /// endpoint's estimate. A cancelled attempt (a caller giving up, a losing hedge) never counts as a failure; its
    /// elapsed time is only a lower bound, which raises the estimate when it is longer
    /// (<see cref="EndpointLoad.RecordLowerBound"/>) and is otherwise ignored. A failed one
    /// (<see cref="AttemptOutcome.FailureStatus"/>, <see cref="AttemptOutcome.ConnectFailure"/>,
    /// <see cref="AttemptOutcome.Timeout"/>) records a penalised latency (<see cref="EndpointLoad.RecordFailure"/>).
    /// Call once.
    /// </summary>
    /// <returns>The attempt's latency.</returns>
    public TimeSpan Complete(AttemptOutcome outcome) => Complete(outcome, statusCode: 0);

    /// <summary>
    /// Ends the attempt as <see cref="Complete(AttemptOutcome)"/> does, and also penalises the latency of a response
    /// whose <paramref name="statusCode"/> is 5xx or 429 (the endpoint answered quickly because it did not do the
    /// work), whatever the outcome says about health.
    /// </summary>
    /// <param name="outcome">How the attempt ended.</param>
    /// <param name="statusCode">The response's status code, or 0 when there was no response.</param>
    /// <returns>The attempt's latency.</returns>
    public TimeSpan Complete(AttemptOutcome outcome, int statusCode)
    {
        var elapsed = RecordResponse(outcome, FailureStatusSet.PenalisesLatency(statusCode));
        End();
        return elapsed;
    }

    /// <summary>
    /// Records the attempt's latency at its response headers (or its failure) without ending it: a response whose body
    /// is still to come keeps its endpoint loaded until <see cref="End"/>. The latency is sampled at the headers, as
    /// Linkerd samples it, so a long download or a server stream does not read as a slow endpoint.
    /// </summary>
    /// <param name="outcome">How the attempt ended, or looks at its headers.</param>
    /// <param name="penalise">Whether a response that says the endpoint did not do the work (5xx, 429, gRPC
    /// RESOURCE_EXHAUSTED) is recorded as a penalised latency even when it does not count as a failure.</param>
    /// <returns>The attempt's latency.</returns>
    public TimeSpan RecordResponse(AttemptOutcome outcome, bool penalise)
    {
        long now = _timeProvider.GetTimestamp();
        var elapsed = _timeProvider.GetElapsedTime(StartTimestamp, now);
        long nowTicks = MonotonicClock.Ticks(_timeProvider, now);
        Endpoint.Load.OnAnswered(nowTicks);
        switch (outcome)
        {
            case AttemptOutcome.Canceled:
                Endpoint.Load.RecordLowerBound(elapsed, nowTicks);
                break;
            case AttemptOutcome.FailureStatus or AttemptOutcome.ConnectFailure or AttemptOutcome.Timeout:
                Endpoint.Load.RecordFailure(elapsed, nowTicks);
                break;
            default:
                if (penalise)
                {
                    Endpoint.Load.RecordFailure(elapsed, nowTicks);
                }
                else
                {
                    Endpoint.Load.RecordRtt(elapsed, nowTicks);
                }

                break;
        }

        return elapsed;
    }

    /// <summary>
    /// Records a failure found after the headers (the body broke, or its gRPC status says so): a penalised latency, as
    /// for a failure at the headers.
    /// </summary>
    public void RecordLateFailure()
    {
        long now = _timeProvider.GetTimestamp();
        Endpoint.Load.RecordFailure(_timeProvider.GetElapsedTime(StartTimestamp, now), MonotonicClock.Ticks(_timeProvider, now));
    }

    /// <summary>Ends the attempt: one fewer in flight. Call once, after <see cref="RecordResponse"/>.</summary>
    public void End() => Endpoint.Load.OnEnd();
}
