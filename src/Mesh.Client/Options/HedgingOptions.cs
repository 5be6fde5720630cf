namespace Mesh.Client;

/// <summary>
/// Hedging (backup requests): when the first attempt has not answered after a delay, a second one goes to another
/// endpoint; the first response wins and the other attempt is cancelled, counted as cancelled rather than failed.
/// Opt-in. Applies to requests that may be retried and carry no content. Hedges are paid from the retry budget.
/// Bound from <c>Mesh:Services:&lt;service&gt;:Hedging</c>.
/// </summary>
public sealed class HedgingOptions
{
    /// <summary>Whether hedging is on. Default: <see langword="false"/>.</summary>
    public bool Enabled { get; set; }

    /// <summary>The fixed delay before the hedge, used until enough latencies are seen for <see cref="DelayPercentile"/>. Default: 100 ms.</summary>
    public TimeSpan Delay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// When set, the delay is this percentile (for example 95) of the service's recent attempt latencies, as
    /// Finagle's backup requests and "The Tail at Scale" suggest; <see cref="Delay"/> applies until 100 samples are
    /// seen. Default: none (fixed delay).
    /// </summary>
    public double? DelayPercentile { get; set; }

    /// <summary>The most attempts in flight for one request, the first included. Default: 2.</summary>
    public int MaxAttempts { get; set; } = 2;

    internal void Validate(string prefix, List<string> errors)
    {
        if (Delay < TimeSpan.Zero || Delay > TimeSpan.FromMinutes(1))
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(Delay), Delay, "00:00:00 to 00:01:00"));
        }

        if (DelayPercentile is { } p && (double.IsNaN(p) || p <= 0 || p >= 100))
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(DelayPercentile), p, "greater than 0 and less than 100, or absent"));
        }

        if (MaxAttempts is < 2 or > 4)
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(MaxAttempts), MaxAttempts, "2 to 4"));
        }
    }
}
