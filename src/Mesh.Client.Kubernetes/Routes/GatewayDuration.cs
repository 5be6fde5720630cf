using System.Globalization;

namespace Mesh.Client.Kubernetes.Routes;

/// <summary>
/// Gateway API durations (GEP-2257): one to four number-unit pairs such as <c>10s</c>, <c>500ms</c> or <c>1h30m</c>,
/// with units h, m, s and ms and at most five digits each; no sign, no fractions, no spaces.
/// </summary>
internal static class GatewayDuration
{
    public static bool TryParse(string? text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        int i = 0;
        int pairs = 0;
        long milliseconds = 0;
        while (i < text.Length)
        {
            int start = i;
            while (i < text.Length && char.IsAsciiDigit(text[i]))
            {
                i++;
            }

            int digits = i - start;
            if (digits is 0 or > 5 || i == text.Length || ++pairs > 4)
            {
                return false;
            }

            long value = long.Parse(text.AsSpan(start, digits), NumberStyles.None, CultureInfo.InvariantCulture);
            if (text[i] == 'm' && i + 1 < text.Length && text[i + 1] == 's')
            {
                milliseconds += value;
                i += 2;
                continue;
            }

            milliseconds += text[i] switch
            {
                'h' => value * 3_600_000,
                'm' => value * 60_000,
                's' => value * 1_000,
                _ => -1,
            };
            if (text[i] is not ('h' or 'm' or 's'))
            {
                return false;
            }

            i++;
        }

        duration = TimeSpan.FromMilliseconds(milliseconds);
        return true;
    }
}
