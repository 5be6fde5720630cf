namespace Mesh.Client.LatencyLab;

/// <summary>
/// Simulated time: a <see cref="TimeProvider"/> whose timestamps move only when the simulation moves them, so the real
/// balancers and <see cref="Routing.EndpointLease"/> measure virtual latencies. One tick is one <see cref="TimeSpan"/> tick.
/// </summary>
public sealed class VirtualClock : TimeProvider
{
    private static readonly DateTimeOffset Epoch = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Time since the start of the simulation.</summary>
    public TimeSpan Now { get; private set; }

    /// <inheritdoc />
    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    /// <inheritdoc />
    public override long GetTimestamp() => Now.Ticks;

    /// <inheritdoc />
    public override DateTimeOffset GetUtcNow() => Epoch + Now;

    /// <summary>Moves time to <paramref name="time"/>; never backwards.</summary>
    public void MoveTo(TimeSpan time)
    {
        if (time < Now)
        {
            throw new InvalidOperationException($"Time cannot go back from {Now} to {time}.");
        }

        Now = time;
    }
}
