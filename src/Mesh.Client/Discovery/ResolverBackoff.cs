namespace Mesh.Client.Discovery;

/// <summary>
/// How long a polling resolver waits before retrying after consecutive failures: exponential from a minimum, capped,
/// with jitter so many clients that failed together do not retry together (AWS "Exponential Backoff and Jitter";
/// gRPC's connection backoff uses the same shape: 1 s, ×2, ±20 %, 120 s cap).
/// </summary>
internal static class ResolverBackoff
{
    /// <summary>The first retry's delay before jitter: 1 second.</summary>
    public static readonly TimeSpan DefaultMin = TimeSpan.FromSeconds(1);

    /// <summary>The largest delay: 30 seconds.</summary>
    public static readonly TimeSpan DefaultMax = TimeSpan.FromSeconds(30);

    /// <summary>The jitter: the delay is multiplied by a factor drawn uniformly from [1 - 0.2, 1 + 0.2].</summary>
    public const double Jitter = 0.2;

    /// <summary>
    /// The delay after <paramref name="failures"/> consecutive failures (1 or more):
    /// <c>min(max, min · 2^(failures-1) · (1 + Jitter · (2·<paramref name="random01"/> - 1)))</c>.
    /// </summary>
    /// <param name="failures">Consecutive failures so far, at least 1.</param>
    /// <param name="min">The first delay before jitter.</param>
    /// <param name="max">The cap, applied after jitter.</param>
    /// <param name="random01">A uniform sample from [0, 1).</param>
    public static TimeSpan Delay(int failures, TimeSpan min, TimeSpan max, double random01)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(failures, 1);
        double exponential = min.Ticks * Math.Pow(2, Math.Min(failures - 1, 30));
        double jittered = exponential * (1 + (Jitter * ((2 * random01) - 1)));
        return TimeSpan.FromTicks((long)Math.Min(max.Ticks, jittered));
    }
}
