namespace Mesh.Client.Demo;

/// <summary>One step of the canary rollout: the weights it sets, when, and which version answered while it was in force.</summary>
internal sealed class CanaryPhase(double at, int stableWeight, int canaryWeight)
{
    private long _stable;
    private long _canary;

    /// <summary>When the step is taken, as a fraction of the run, so a short run has every step too.</summary>
    public double At { get; } = at;

    public int StableWeight { get; } = stableWeight;

    public int CanaryWeight { get; } = canaryWeight;

    public TimeSpan Started { get; set; }

    public TimeSpan? Ended { get; set; }

    public long Stable => Interlocked.Read(ref _stable);

    public long Canary => Interlocked.Read(ref _canary);

    /// <summary>The rollout: v2 takes 10 %, then half, then everything.</summary>
    public static CanaryPhase[] Rollout() => [new(0, 90, 10), new(1 / 3.0, 50, 50), new(2 / 3.0, 0, 100)];

    public void Record(bool canary) => Interlocked.Increment(ref canary ? ref _canary : ref _stable);
}
