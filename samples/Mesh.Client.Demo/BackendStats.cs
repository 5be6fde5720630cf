namespace Mesh.Client.Demo;

/// <summary>What the caller saw of one backend: requests it answered and their latencies (send to response).</summary>
internal sealed class BackendStats
{
    private readonly Lock _lock = new();
    private readonly List<double> _latenciesMs = [];
    private readonly Queue<(long Timestamp, double Ms)> _recent = new();

    public int Requests { get; private set; }

    public void Record(double latencyMs, long timestamp)
    {
        lock (_lock)
        {
            Requests++;
            _latenciesMs.Add(latencyMs);
            _recent.Enqueue((timestamp, latencyMs));
        }
    }

    /// <summary>Requests per second and p50 over the last <paramref name="window"/>.</summary>
    public (double Rate, double P50) Recent(TimeSpan window, long now, long frequency)
    {
        lock (_lock)
        {
            long cutoff = now - (long)(window.TotalSeconds * frequency);
            while (_recent.Count > 0 && _recent.Peek().Timestamp < cutoff)
            {
                _recent.Dequeue();
            }

            var sorted = _recent.Select(r => r.Ms).Order().ToArray();
            return (sorted.Length / window.TotalSeconds, Percentile(sorted, 0.5));
        }
    }

    public (double P50, double P99) Overall()
    {
        lock (_lock)
        {
            var sorted = _latenciesMs.Order().ToArray();
            return (Percentile(sorted, 0.5), Percentile(sorted, 0.99));
        }
    }

    public static double Percentile(double[] sorted, double q) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
}
