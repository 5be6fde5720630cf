using System.Globalization;
using System.Text;

namespace Mesh.Client.LatencyLab;

/// <summary>
/// Writes the latency-by-percentile chart as a standalone SVG (no charting package is available here): x is the
/// percentile on a "nines" scale, y the latency on a log scale, one line per strategy.
/// </summary>
internal static class SvgChart
{
    private static readonly string[] Colors = ["#d62728", "#ff7f0e", "#1f77b4", "#e377c2", "#bcbd22", "#17becf", "#2ca02c", "#9467bd", "#8c564b"];

    public static string Render(string title, IReadOnlyList<(string Name, double[] ValuesMs)> series, double[] percentiles)
    {
        const double width = 860, height = 440, left = 70, right = 260, top = 50, bottom = 60;
        double plotWidth = width - left - right;
        double plotHeight = height - top - bottom;
        double Nines(double p) => -Math.Log10(1 - (p / 100.0));
        double xMin = Nines(percentiles[0]);
        double xMax = Nines(percentiles[^1]);
        double X(double p) => left + ((Nines(p) - xMin) / (xMax - xMin) * plotWidth);

        double yMinMs = 100;
        double yMaxMs = 5000;
        foreach (var (_, values) in series)
        {
            foreach (double v in values)
            {
                yMinMs = Math.Min(yMinMs, Math.Pow(10, Math.Floor(Math.Log10(v))));
                yMaxMs = Math.Max(yMaxMs, Math.Pow(10, Math.Ceiling(Math.Log10(v))));
            }
        }

        double Y(double ms) => top + plotHeight - ((Math.Log10(ms) - Math.Log10(yMinMs)) / (Math.Log10(yMaxMs) - Math.Log10(yMinMs)) * plotHeight);
        string F(double v) => v.ToString("0.#", CultureInfo.InvariantCulture);

        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{F(width)}\" height=\"{F(height)}\" viewBox=\"0 0 {F(width)} {F(height)}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        svg.Append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(width / 2)}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">{Escape(title)}</text>\n");

        for (double ms = yMinMs; ms <= yMaxMs * 1.0001; ms *= 10)
        {
            foreach (double m in new[] { 1.0, 2.0, 5.0 })
            {
                double value = ms * m;
                if (value > yMaxMs * 1.0001)
                {
                    break;
                }

                double y = Y(value);
                svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{F(left)}\" y1=\"{F(y)}\" x2=\"{F(left + plotWidth)}\" y2=\"{F(y)}\" stroke=\"#e5e5e5\"/>\n");
                svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(left - 6)}\" y=\"{F(y + 4)}\" text-anchor=\"end\">{F(value)}</text>\n");
            }
        }

        foreach (double p in percentiles)
        {
            double x = X(p);
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{F(x)}\" y1=\"{F(top)}\" x2=\"{F(x)}\" y2=\"{F(top + plotHeight)}\" stroke=\"#e5e5e5\"/>\n");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(x)}\" y=\"{F(top + plotHeight + 18)}\" text-anchor=\"middle\">{Percentiles.Label(p)}</text>\n");
        }

        svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{F(left)}\" y=\"{F(top)}\" width=\"{F(plotWidth)}\" height=\"{F(plotHeight)}\" fill=\"none\" stroke=\"#333\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(left + (plotWidth / 2))}\" y=\"{F(height - 14)}\" text-anchor=\"middle\">percentile</text>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text transform=\"translate(18 {F(top + (plotHeight / 2))}) rotate(-90)\" text-anchor=\"middle\">latency (ms, log scale)</text>\n");

        for (int s = 0; s < series.Count; s++)
        {
            var (name, values) = series[s];
            string color = Colors[s % Colors.Length];
            // Variants of a balancer ("PeakEwma + hedging") are dashed, so the baselines stand out.
            string dash = name.Contains('+', StringComparison.Ordinal) ? " stroke-dasharray=\"7 4\"" : string.Empty;
            var points = string.Join(" ", values.Select((v, i) => $"{F(X(percentiles[i]))},{F(Y(v))}"));
            svg.Append(CultureInfo.InvariantCulture, $"<polyline points=\"{points}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2.5\"{dash}/>\n");
            for (int i = 0; i < values.Length; i++)
            {
                svg.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{F(X(percentiles[i]))}\" cy=\"{F(Y(values[i]))}\" r=\"3.5\" fill=\"{color}\"/>\n");
            }

            double legendY = top + 10 + (s * 22);
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{F(left + plotWidth + 14)}\" y1=\"{F(legendY)}\" x2=\"{F(left + plotWidth + 38)}\" y2=\"{F(legendY)}\" stroke=\"{color}\" stroke-width=\"2.5\"{dash}/>\n");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(left + plotWidth + 44)}\" y=\"{F(legendY + 4)}\">{Escape(name)}</text>\n");
        }

        svg.Append("</svg>\n");
        return svg.ToString();
    }

    private static string Escape(string text) => text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal);
}
