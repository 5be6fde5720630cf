
namespace Mesh.Client;

/// <summary>
/// Envoy's slow-start ramp, precomputed from a service's <c>SlowStart</c> options: at <c>t</c> into a window of length
/// <c>W</c>, the weight factor is <c>max(min_weight_percent / 100, (max(t, 1 ms) / W)^(1 / aggression))</c>, and 1 from
/// the end of the window on. Immutable; shared by every endpoint of a service.
/// </summary>
internal sealed class SlowStartCurve
{
    private readonly double _inverseAggression;

    /// <summary>Creates the curve.</summary>
    /// <param name="window">The ramp's length, greater than zero.</param>
    /// <param name="aggression">The ramp's shape: 1 is linear.</param>
    /// <param name="minWeightPercent">The factor the ramp never goes below, in percent.</param>
    public SlowStartCurve(TimeSpan window, double aggression = 1.0, double minWeightPercent = 10)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(window, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(aggression, 0);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(minWeightPercent, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minWeightPercent, 100);
        WindowTicks = window.Ticks;
        _inverseAggression = 1.0 / aggression;
        MinFactor = minWeightPercent / 100.0;
    }

    /// <summary>The window's length in <see cref="TimeSpan"/> ticks.</summary>
    public long WindowTicks { get; }

    /// <summary>The smallest factor.</summary>
    public double MinFactor { get; }

    /// <summary>The factor <paramref name="elapsedTicks"/> into the window.</summary>
    public double Factor(long elapsedTicks)
    {
        if (elapsedTicks >= WindowTicks)
        {
            return 1.0;
        }

        double timeFactor = (double)Math.Max(TimeSpan.TicksPerMillisecond, elapsedTicks) / WindowTicks;
        double ramped = _inverseAggression == 1.0 ? timeFactor : Math.Pow(timeFactor, _inverseAggression);
        return Math.Max(MinFactor, Math.Min(1.0, ramped));
    }
}
