namespace Mesh.Client.LatencyLab;

/// <summary>Nearest-rank percentiles of a latency sample.</summary>
internal static class Percentiles
{
    public static readonly double[] Reported = [50, 90, 95, 99, 99.9, 99.99];

    public static string Label(double p) => "p" + p.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The smallest value at or above which <paramref name="percentile"/> % of the sorted sample lies.</summary>
    public static double Of(double[] sorted, double percentile)
    {
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        int rank = (int)Math.Ceiling(percentile / 100.0 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }
}
