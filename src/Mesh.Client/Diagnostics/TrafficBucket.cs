namespace Mesh.Client.Diagnostics;

/// <summary>
/// One time bucket of an endpoint's (or a route backend's) recent traffic: its attempts, how many failed, and their
/// median and 99th percentile latency. Snapshots carry the last five minutes as 30 buckets of 10 seconds, oldest first;
/// the last one is the bucket in progress.
/// </summary>
/// <remarks>
/// A failure is an attempt passive health counts against the endpoint (a failure status, by default 502, 503 and 504; a
/// connection failure; an attempt timeout). Attempts the caller cancelled, and losing hedges, are not counted.
/// Percentiles are read from a histogram with bounds √2 apart, so they are within 19 % of the exact values.
/// </remarks>
public sealed class TrafficBucket
{
    /// <summary>When the bucket starts (the mesh's <see cref="TimeProvider"/>).</summary>
    public required DateTimeOffset Start { get; init; }

    /// <summary>The time the bucket covers: 10 seconds, or for the bucket in progress the time elapsed in it (at least 1 second).</summary>
    public required TimeSpan Duration { get; init; }

    /// <summary>Attempts that ended in the bucket.</summary>
    public required long Requests { get; init; }

    /// <summary>Attempts that ended in the bucket and failed.</summary>
    public required long Failures { get; init; }

    /// <summary>The share of attempts that succeeded, 0 to 1; null when there was none.</summary>
    public double? SuccessRate => Requests == 0 ? null : (Requests - Failures) / (double)Requests;

    /// <summary>Attempts per second over <see cref="Duration"/> (0 for a bucket of no duration).</summary>
    public double RequestsPerSecond => Duration > TimeSpan.Zero ? Requests / Duration.TotalSeconds : 0;

    /// <summary>The median latency; null when there was no attempt.</summary>
    public TimeSpan? P50 { get; init; }

    /// <summary>The 99th percentile latency; null when there was no attempt.</summary>
    public TimeSpan? P99 { get; init; }
}

/// <summary>Reads a <see cref="TrafficRecorder"/> into the <see cref="TrafficBucket"/>s snapshots carry.</summary>
internal static class TrafficBuckets
{
    /// <summary>
    /// The ring's buckets up to the one holding <paramref name="nowTicks"/> (monotonic ticks, shown as wall-clock times
    /// from <paramref name="now"/>), oldest first; all empty when <paramref name="recorder"/> is null (no attempt yet).
    /// </summary>
    public static TrafficBucket[] Read(TrafficRecorder? recorder, long nowTicks, DateTimeOffset now)
    {
        long bucketTicks = (recorder?.Duration ?? TrafficRecorder.BucketDuration).Ticks;
        long current = nowTicks / bucketTicks;
        Span<int> histogram = stackalloc int[TrafficRecorder.LatencyBucketCount];
        histogram.Clear(); // stays empty when there is no recorder
        var buckets = new TrafficBucket[TrafficRecorder.BucketCount];
        for (int i = 0; i < buckets.Length; i++)
        {
            long number = current - (buckets.Length - 1) + i;
            var (attempts, failures) = recorder?.Read(number, histogram) ?? default;
            long startTicks = number * bucketTicks;
            long elapsed = number == current ? Math.Max(TimeSpan.TicksPerSecond, nowTicks - startTicks) : bucketTicks;
            buckets[i] = new TrafficBucket
            {
                Start = now - TimeSpan.FromTicks(nowTicks - startTicks),
                Duration = TimeSpan.FromTicks(elapsed),
                Requests = attempts,
                Failures = failures,
                P50 = TrafficRecorder.Percentile(histogram, 0.50),
                P99 = TrafficRecorder.Percentile(histogram, 0.99),
            };
        }

        return buckets;
    }
}
