namespace Mesh.Client;

/// <summary>
/// <c>SlowStartCurve.From(options)</c>: builds the ramp (Model/) from the options (here), so the shared vocabulary in
/// Model/ depends on no options type. A C# 14 static extension member, so callers still write
/// <c>SlowStartCurve.From(options.SlowStart)</c>.
/// </summary>
internal static class SlowStartCurveFromOptions
{
    extension(SlowStartCurve)
    {
        /// <summary>The service's ramp, or <see langword="null"/> when slow start is off.</summary>
        internal static SlowStartCurve? From(SlowStartOptions options) =>
            options.Enabled ? new SlowStartCurve(options.Window, options.Aggression, options.MinWeightPercent) : null;
    }
}
