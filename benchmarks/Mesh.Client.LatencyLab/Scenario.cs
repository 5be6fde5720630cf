namespace Mesh.Client.LatencyLab;

/// <summary>
/// The experiment's world: Linkerd's "Beyond Round Robin" (and Finagle's) setup by default: 11 replicas answering in
/// N(167 ms, 5 ms), 1,000 requests a second for 60 seconds, one replica stuck at 2 seconds from 15 s to 45 s.
/// </summary>
internal sealed record Scenario
{
    public int Endpoints { get; init; } = 11;

    public TimeSpan MeanLatency { get; init; } = TimeSpan.FromMilliseconds(167);

    public TimeSpan LatencyStdDev { get; init; } = TimeSpan.FromMilliseconds(5);

    public int RequestsPerSecond { get; init; } = 1000;

    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The replica that gets stuck (index into the endpoints).</summary>
    public int StuckEndpoint { get; init; }

    public TimeSpan StuckLatency { get; init; } = TimeSpan.FromSeconds(2);

    public TimeSpan StuckFrom { get; init; } = TimeSpan.FromSeconds(15);

    public TimeSpan StuckUntil { get; init; } = TimeSpan.FromSeconds(45);

    public int Seed { get; init; } = 1;

    /// <summary>How long replica <paramref name="endpoint"/> takes to answer a request that reaches it at <paramref name="at"/>.</summary>
    public TimeSpan ServiceTime(int endpoint, TimeSpan at, Random random)
    {
        if (endpoint == StuckEndpoint && at >= StuckFrom && at < StuckUntil)
        {
            return StuckLatency;
        }

        // Box-Muller: a normal sample from two uniform ones; clamp at 1 ms so a far tail never goes negative.
        double u1 = 1.0 - random.NextDouble();
        double u2 = random.NextDouble();
        double normal = Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
        double ms = MeanLatency.TotalMilliseconds + (normal * LatencyStdDev.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(Math.Max(1, ms));
    }
}
