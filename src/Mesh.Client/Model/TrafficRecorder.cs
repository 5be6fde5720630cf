using System.Numerics;
using System.Runtime.CompilerServices;

namespace Mesh.Client;

/// <summary>
/// Recent traffic of one endpoint (or one backend of a route), for the diagnostics charts: a ring of
/// <see cref="BucketCount"/> buckets of <see cref="BucketDuration"/> each, every bucket holding its attempts, its
/// failures and a latency histogram on half-octave (×√2) bounds, from which p50 and p99 are read.
/// </summary>
/// <remarks>
/// <para>
/// 10 s × 30 keeps the last five minutes: long enough to watch a canary take its share and settle, short enough that
/// a chart of 30 points fits a table cell. 10 s is also the usual scrape interval, so the page and a Prometheus
/// dashboard show the same resolution.
/// </para>
/// <para>
/// Recording is lock-free and allocates nothing: a few <see cref="Interlocked"/> increments into arrays allocated
/// with the recorder. A bucket is reused when time comes back to its slot: the first writer of the new period claims
/// it with one compare-and-swap and clears it; a sample that arrives in the moment it is being cleared is dropped
/// rather than waited for. Readers copy a bucket and check its period did not change meanwhile.
/// </para>
/// <para>
/// The histogram's bounds grow by √2 from 51.2 µs to 54 s (42 buckets, the first and last open-ended), so a
/// percentile read as a bucket's geometric middle is within 19 % of the true value. The memory is about 5 KB per
/// recorder; endpoints create theirs on their first attempt.
/// </para>
/// </remarks>
internal sealed class TrafficRecorder
{
    /// <summary>How many buckets the ring keeps.</summary>
    public const int BucketCount = 30;

    /// <summary>How many latency buckets each time bucket has.</summary>
    public const int LatencyBucketCount = 42;

    /// <summary>The time each bucket covers.</summary>
    public static readonly TimeSpan BucketDuration = TimeSpan.FromSeconds(10);

    private const int Stride = 2 + LatencyBucketCount; // [0] attempts, [1] failures, then the latency histogram
    private const int SmallestBoundLog2 = 9; // 2^9 ticks = 51.2 µs: below is the first latency bucket
    private const long Resetting = -1;

    private readonly long _bucketTicks;

    // The period (bucket number + 1) each slot holds; 0 for never used, Resetting while the slot is cleared.
    private readonly long[] _periods = new long[BucketCount];
    private readonly int[] _counts = new int[BucketCount * Stride];

    public TrafficRecorder()
        : this(BucketDuration)
    {
    }

    /// <summary>A recorder with buckets of <paramref name="bucketDuration"/> (tests use other sizes).</summary>
    public TrafficRecorder(TimeSpan bucketDuration)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(bucketDuration, TimeSpan.Zero);
        _bucketTicks = bucketDuration.Ticks;
    }

    /// <summary>The time each bucket covers.</summary>
    public TimeSpan Duration => TimeSpan.FromTicks(_bucketTicks);

    /// <summary>
    /// Records one attempt that ended at <paramref name="nowTicks"/> (monotonic <see cref="TimeSpan"/> ticks). Attempts
    /// the caller cancelled, and losing hedges, are left out: they say nothing about the endpoint.
    /// </summary>
    public void Record(long nowTicks, AttemptOutcome outcome, TimeSpan latency)
    {
        if (outcome == AttemptOutcome.Canceled || nowTicks < 0)
        {
            return;
        }

        long number = nowTicks / _bucketTicks;
        int slot = (int)(number % BucketCount);
        if (Volatile.Read(ref _periods[slot]) != number + 1 && !Claim(slot, number + 1))
        {
            return;
        }

        int offset = slot * Stride;
        Interlocked.Increment(ref _counts[offset]);
        if (outcome != AttemptOutcome.Success)
        {
            Interlocked.Increment(ref _counts[offset + 1]);
        }

        Interlocked.Increment(ref _counts[offset + 2 + LatencyIndex(latency.Ticks)]);
    }

    /// <summary>Moves <paramref name="slot"/> to <paramref name="period"/>, clearing it; false when the sample must be dropped.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool Claim(int slot, long period)
    {
        ref long current = ref _periods[slot];
        long seen = Volatile.Read(ref current);
        while (seen != period)
        {
            if (seen == Resetting || seen > period)
            {
                return false; // being cleared by another writer, or the sample is older than the ring
            }

            long previous = Interlocked.CompareExchange(ref current, Resetting, seen);
            if (previous == seen)
            {
                Array.Clear(_counts, slot * Stride, Stride);
                Volatile.Write(ref current, period);
                return true;
            }

            seen = previous;
        }

        return true;
    }

    /// <summary>The latency bucket of <paramref name="ticks"/>: 0 below 51.2 µs, then one per half octave, the last open-ended.</summary>
    public static int LatencyIndex(long ticks)
    {
        if (ticks < 1L << SmallestBoundLog2)
        {
            return 0;
        }

        int log2 = BitOperations.Log2((ulong)ticks);
        if (log2 >= SmallestBoundLog2 + ((LatencyBucketCount - 2) / 2))
        {
            return LatencyBucketCount - 1;
        }

        // Upper half of the octave when ticks ≥ √2 · 2^log2 (181/128 ≈ √2, 0.01 % low).
        int upperHalf = ticks * 128 >= 181L << log2 ? 1 : 0;
        return 1 + (2 * (log2 - SmallestBoundLog2)) + upperHalf;
    }

    /// <summary>The latency a bucket stands for: the geometric middle of its bounds.</summary>
    public static TimeSpan LatencyOf(int index) =>
        TimeSpan.FromTicks((long)Math.Round((1L << SmallestBoundLog2) * Math.Pow(2, ((index - 1) / 2.0) + 0.25)));

    /// <summary>
    /// Copies the bucket that covers <paramref name="number"/> (monotonic ticks divided by <see cref="Duration"/>) into
    /// <paramref name="into"/> (<see cref="LatencyBucketCount"/> latency counts); zeros when the ring no longer, or does
    /// not yet, hold it.
    /// </summary>
    public (int Attempts, int Failures) Read(long number, Span<int> into)
    {
        into.Clear();
        if (number < 0)
        {
            return default;
        }

        int slot = (int)(number % BucketCount);
        ref long period = ref _periods[slot];
        long before = Volatile.Read(ref period);
        if (before != number + 1)
        {
            return default;
        }

        int offset = slot * Stride;
        int attempts = Volatile.Read(ref _counts[offset]);
        int failures = Volatile.Read(ref _counts[offset + 1]);
        for (int i = 0; i < LatencyBucketCount; i++)
        {
            into[i] = Volatile.Read(ref _counts[offset + 2 + i]);
        }

        if (Volatile.Read(ref period) != before)
        {
            into.Clear(); // reused for a newer period while being read
            return default;
        }

        return (attempts, failures);
    }

    /// <summary>The <paramref name="quantile"/> (0 to 1) of a latency histogram read by <see cref="Read"/>; null when it is empty.</summary>
    public static TimeSpan? Percentile(ReadOnlySpan<int> histogram, double quantile)
    {
        long total = 0;
        foreach (int count in histogram)
        {
            total += count;
        }

        if (total == 0)
        {
            return null;
        }

        // The smallest bucket whose cumulative count reaches the rank ⌈q·n⌉ (nearest-rank percentile).
        long rank = Math.Max(1, (long)Math.Ceiling(quantile * total));
        long cumulative = 0;
        for (int i = 0; i < histogram.Length; i++)
        {
            cumulative += histogram[i];
            if (cumulative >= rank)
            {
                return LatencyOf(i);
            }
        }

        return LatencyOf(histogram.Length - 1);
    }
}
