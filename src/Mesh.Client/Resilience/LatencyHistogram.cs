namespace Mesh.Client.Resilience;

/// <summary>
/// Recent attempt latencies of one service, for hedging's percentile delay: a log-scale histogram (buckets 20 % wide,
/// 0.1 ms to about 100 s) over the current and the previous 10-second period. Recording is two interlocked increments;
/// a percentile is a walk over ~80 buckets.
/// </summary>
internal sealed class LatencyHistogram
{
    private const double MinMilliseconds = 0.1;
    private const double Growth = 1.2;
    private const int BucketCount = 80;
    private static readonly double s_logGrowth = Math.Log(Growth);

    private readonly TimeProvider _timeProvider;
    private readonly long _periodTicks;
    private readonly Lock _rotateLock = new();
    private Generation _current;
    private Generation _previous;

    /// <summary>Creates a histogram whose samples count for between one and two <paramref name="period"/>s (default 10 s).</summary>
    public LatencyHistogram(TimeProvider timeProvider, TimeSpan? period = null)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        _timeProvider = timeProvider;
        _periodTicks = (period ?? TimeSpan.FromSeconds(10)).Ticks;
        _current = new Generation(CurrentEpoch());
        _previous = new Generation(-1);
    }

    /// <summary>Records one latency.</summary>
    public void Record(TimeSpan latency)
    {
        var generation = CurrentGeneration();
        Interlocked.Increment(ref generation.Counts[BucketOf(latency)]);
        Interlocked.Increment(ref generation.Total);
    }

    /// <summary>
    /// The latency below which <paramref name="percentile"/> % of recent samples fall (the bucket's upper bound), or
    /// <see langword="null"/> with fewer than <paramref name="minimumSamples"/> samples.
    /// </summary>
    public TimeSpan? GetPercentile(double percentile, long minimumSamples = 100)
    {
        var current = CurrentGeneration();
        var previous = Volatile.Read(ref _previous);
        bool usePrevious = previous.Epoch == current.Epoch - 1;
        long total = Volatile.Read(ref current.Total) + (usePrevious ? Volatile.Read(ref previous.Total) : 0);
        if (total < minimumSamples || total == 0)
        {
            return null;
        }

        long target = (long)Math.Ceiling(total * percentile / 100.0);
        long seen = 0;
        for (int i = 0; i < BucketCount; i++)
        {
            seen += Volatile.Read(ref current.Counts[i]) + (usePrevious ? Volatile.Read(ref previous.Counts[i]) : 0);
            if (seen >= target)
            {
                return TimeSpan.FromMilliseconds(MinMilliseconds * Math.Pow(Growth, i + 1));
            }
        }

        return TimeSpan.FromMilliseconds(MinMilliseconds * Math.Pow(Growth, BucketCount));
    }

    private static int BucketOf(TimeSpan latency)
    {
        double ms = latency.TotalMilliseconds;
        if (ms <= MinMilliseconds)
        {
            return 0;
        }

        int bucket = (int)(Math.Log(ms / MinMilliseconds) / s_logGrowth);
        return Math.Clamp(bucket, 0, BucketCount - 1);
    }

    private long CurrentEpoch() => _timeProvider.GetElapsedTime(0, _timeProvider.GetTimestamp()).Ticks / _periodTicks;

    private Generation CurrentGeneration()
    {
        long epoch = CurrentEpoch();
        var current = Volatile.Read(ref _current);
        if (current.Epoch == epoch)
        {
            return current;
        }

        lock (_rotateLock)
        {
            current = _current;
            if (current.Epoch != epoch)
            {
                Volatile.Write(ref _previous, current.Epoch == epoch - 1 ? current : new Generation(-1));
                current = new Generation(epoch);
                Volatile.Write(ref _current, current);
            }

            return current;
        }
    }

    private sealed class Generation(long epoch)
    {
        public readonly long Epoch = epoch;
        public readonly long[] Counts = new long[BucketCount];
        public long Total;
    }
}
