namespace Mesh.Client;

/// <summary>
/// Slow start: a new or re-admitted endpoint's weight ramps up over <see cref="Window"/> rather than taking full
/// traffic at once (Envoy's <c>slow_start_config</c>). Weighted and load-aware balancers read it through
/// <see cref="MeshEndpoint.EffectiveWeight(long)"/>. Off by default. Bound from
/// <c>Mesh:Services:&lt;service&gt;:SlowStart</c>.
/// </summary>
/// <remarks>
/// The weight at time <c>t</c> into the window is <c>weight × max(MinWeightPercent / 100, (t / Window)^(1 / Aggression))</c>.
/// </remarks>
public sealed class SlowStartOptions
{
    /// <summary>The ramp's length. Default: zero, which turns slow start off.</summary>
    public TimeSpan Window { get; set; }

    /// <summary>How the ramp is shaped: 1 is linear; above 1 the weight rises faster at first. Default: 1.</summary>
    public double Aggression { get; set; } = 1.0;

    /// <summary>The weight, in percent of the full weight, an endpoint starts with. Default: 10 (Envoy).</summary>
    public double MinWeightPercent { get; set; } = 10;

    /// <summary>Whether slow start is on: the window is longer than zero.</summary>
    public bool Enabled => Window > TimeSpan.Zero;

    /// <summary>The ramp these options describe, or null when slow start is off.</summary>
    internal SlowStartCurve? ToCurve() => Enabled ? new SlowStartCurve(Window, Aggression, MinWeightPercent) : null;

    internal void Validate(string prefix, List<string> errors)
    {
        if (Window < TimeSpan.Zero || Window > TimeSpan.FromHours(1))
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(Window), Window, "00:00:00 (off) to 01:00:00"));
        }

        if (double.IsNaN(Aggression) || Aggression <= 0 || Aggression > 100)
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(Aggression), Aggression, "greater than 0 and at most 100"));
        }

        if (double.IsNaN(MinWeightPercent) || MinWeightPercent <= 0 || MinWeightPercent > 100)
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(MinWeightPercent), MinWeightPercent, "greater than 0 and at most 100"));
        }
    }
}
