namespace Mesh.Client.Kubernetes.Discovery;

/// <summary>
/// Exponential backoff with jitter for reconnecting a watch: attempt <c>n</c> waits a random time between half and
/// all of <c>min(max, initial × 2ⁿ)</c> ("equal jitter"), so many clients that lost the API server at once do not
/// return at once, and none waits less than half the nominal delay.
/// </summary>
internal static class ReconnectBackoff
{
    public static TimeSpan Delay(int attempt, TimeSpan initial, TimeSpan max, double random)
    {
        double nominal = initial.Ticks * Math.Pow(2, Math.Clamp(attempt, 0, 30));
        double capped = Math.Min(nominal, max.Ticks);
        return TimeSpan.FromTicks((long)(capped * (0.5 + (0.5 * Math.Clamp(random, 0, 1)))));
    }
}
