using Mesh.Client.Discovery;

namespace Mesh.Client.Routing;

/// <summary>
/// One attempt in flight against an <see cref="Endpoint"/>, from <see cref="Endpoint.Begin(TimeProvider)"/> to
/// <see cref="Complete(AttemptOutcome)"/>. A value type: taking a lease allocates nothing.
/// </summary>
public readonly struct EndpointLease
{
    private readonly TimeProvider _timeProvider;

    internal EndpointLease(Endpoint endpoint, TimeProvider timeProvider, long startTimestamp)
    {
        Endpoint = endpoint;
        _timeProvider = timeProvider;
        StartTimestamp = startTimestamp;
    }

    /// <summary>The endpoint the attempt went to.</summary>
    public Endpoint Endpoint { get; }

    /// <summary>When the attempt started, as a <see cref="TimeProvider.GetTimestamp"/> value.</summary>
    public long StartTimestamp { get; }

    /// <summary>
    /// Ends the attempt: one fewer in flight, and the latency (start to response headers) recorded into the
    /// endpoint's estimate. A cancelled attempt records no latency: it says nothing about the endpoint.
    /// Call once.
    /// </summary>
    /// <returns>The attempt's latency.</returns>
    public TimeSpan Complete(AttemptOutcome outcome)
    {
        long now = _timeProvider.GetTimestamp();
        var elapsed = _timeProvider.GetElapsedTime(StartTimestamp, now);
        Endpoint.Load.OnEnd();
        if (outcome != AttemptOutcome.Canceled)
        {
            Endpoint.Load.RecordRtt(elapsed, MonotonicTicks(_timeProvider, now));
        }

        return elapsed;
    }

    /// <summary>A timestamp of <paramref name="timeProvider"/> as monotonic <see cref="TimeSpan"/> ticks.</summary>
    internal static long MonotonicTicks(TimeProvider timeProvider, long timestamp) =>
        timeProvider.GetElapsedTime(0, timestamp).Ticks;
}
