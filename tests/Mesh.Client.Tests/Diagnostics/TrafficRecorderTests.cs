using Mesh.Client.Diagnostics;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Client.Tests.Diagnostics;

/// <summary>
/// The per-endpoint time series behind the diagnostics charts: buckets that roll over with the mesh's clock, success
/// rate, requests per second and percentiles per bucket, old buckets expiring, and recording that allocates nothing.
/// </summary>
public sealed class TrafficRecorderTests
{
    private static readonly TimeSpan s_bucket = TrafficRecorder.BucketDuration;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 12, 0, 0, TimeSpan.Zero));

    private long NowTicks => MonotonicClock.Ticks(_time, _time.GetTimestamp());

    private TrafficBucket[] Read(TrafficRecorder recorder) => TrafficBuckets.Read(recorder, NowTicks, _time.GetUtcNow());

    /// <summary>Moves the clock to the start of a bucket, so a test knows which bucket each sample falls in.</summary>
    private void AlignToBucket()
    {
        long into = NowTicks % s_bucket.Ticks;
        if (into != 0)
        {
            _time.Advance(TimeSpan.FromTicks(s_bucket.Ticks - into));
        }
    }

    [Fact]
    public void Attempts_fall_in_the_bucket_of_their_time_and_the_series_ends_with_the_bucket_in_progress()
    {
        var recorder = new TrafficRecorder();
        AlignToBucket();
        for (int i = 0; i < 3; i++)
        {
            recorder.Record(NowTicks, AttemptOutcome.Success, TimeSpan.FromMilliseconds(5));
        }

        _time.Advance(s_bucket);
        recorder.Record(NowTicks, AttemptOutcome.Success, TimeSpan.FromMilliseconds(5));
        recorder.Record(NowTicks, AttemptOutcome.FailureStatus, TimeSpan.FromMilliseconds(5));
        _time.Advance(TimeSpan.FromSeconds(4));

        var buckets = Read(recorder);

        Assert.Equal(TrafficRecorder.BucketCount, buckets.Length);
        var (previous, current) = (buckets[^2], buckets[^1]);
        Assert.Equal((3L, 0L, 1.0), (previous.Requests, previous.Failures, previous.SuccessRate));
        Assert.Equal((2L, 1L, 0.5), (current.Requests, current.Failures, current.SuccessRate));
        Assert.Equal(_time.GetUtcNow() - TimeSpan.FromSeconds(4), current.Start);
        Assert.Equal(current.Start - s_bucket, previous.Start);
        Assert.Equal(s_bucket, previous.Duration);
        Assert.Equal(TimeSpan.FromSeconds(4), current.Duration); // in progress: the time elapsed in it
        Assert.Equal(0.3, previous.RequestsPerSecond, 9);
        Assert.Equal(0.5, current.RequestsPerSecond, 9);
        Assert.All(buckets[..^2], b => Assert.Equal((0L, null, null, null), (b.Requests, b.SuccessRate, b.P50, b.P99)));
        for (int i = 1; i < buckets.Length; i++)
        {
            Assert.Equal(buckets[i - 1].Start + s_bucket, buckets[i].Start);
        }
    }

    [Fact]
    public void Failures_are_what_health_counts_and_cancelled_attempts_are_left_out()
    {
        var recorder = new TrafficRecorder();
        recorder.Record(NowTicks, AttemptOutcome.Success, TimeSpan.FromMilliseconds(1));
        recorder.Record(NowTicks, AttemptOutcome.FailureStatus, TimeSpan.FromMilliseconds(1));
        recorder.Record(NowTicks, AttemptOutcome.ConnectFailure, TimeSpan.FromMilliseconds(1));
        recorder.Record(NowTicks, AttemptOutcome.Timeout, TimeSpan.FromMilliseconds(1));
        recorder.Record(NowTicks, AttemptOutcome.Canceled, TimeSpan.FromMilliseconds(1));

        var current = Read(recorder)[^1];

        Assert.Equal((4L, 3L, 0.25), (current.Requests, current.Failures, current.SuccessRate));
    }

    [Fact]
    public void P50_and_p99_come_from_the_histogram_within_its_resolution()
    {
        var recorder = new TrafficRecorder();
        for (int i = 0; i < 980; i++)
        {
            recorder.Record(NowTicks, AttemptOutcome.Success, TimeSpan.FromMilliseconds(10));
        }

        for (int i = 0; i < 20; i++)
        {
            recorder.Record(NowTicks, AttemptOutcome.Success, TimeSpan.FromMilliseconds(400));
        }

        var current = Read(recorder)[^1];

        Assert.InRange(current.P50!.Value.TotalMilliseconds, 10 / 1.19, 10 * 1.19);
        Assert.InRange(current.P99!.Value.TotalMilliseconds, 400 / 1.19, 400 * 1.19);
    }

    [Fact]
    public void Every_latency_from_50_microseconds_to_50_seconds_reads_back_within_19_percent()
    {
        int previous = 0;
        for (double ms = 0.052; ms < 53_000; ms *= 1.01)
        {
            var latency = TimeSpan.FromMilliseconds(ms);
            int index = TrafficRecorder.LatencyIndex(latency.Ticks);
            Assert.InRange(index, previous, TrafficRecorder.LatencyBucketCount - 1); // monotonic
            previous = index;
            double read = TrafficRecorder.LatencyOf(index).TotalMilliseconds;
            Assert.InRange(read / ms, 1 / 1.19, 1.19);
        }

        Assert.Equal(0, TrafficRecorder.LatencyIndex(0));
        Assert.Equal(TrafficRecorder.LatencyBucketCount - 1, TrafficRecorder.LatencyIndex(TimeSpan.FromMinutes(10).Ticks));
    }

    [Fact]
    public void Buckets_older_than_five_minutes_expire_and_their_slot_starts_from_zero()
    {
        var recorder = new TrafficRecorder();
        AlignToBucket();
        for (int i = 0; i < 7; i++)
        {
            recorder.Record(NowTicks, AttemptOutcome.FailureStatus, TimeSpan.FromSeconds(2));
        }

        _time.Advance(s_bucket * (TrafficRecorder.BucketCount - 1));
        Assert.Equal(7, Read(recorder)[0].Requests); // the oldest bucket the series shows

        _time.Advance(s_bucket); // the ring has come round to the same slot
        Assert.All(Read(recorder), b => Assert.Equal(0, b.Requests));

        recorder.Record(NowTicks, AttemptOutcome.Success, TimeSpan.FromMilliseconds(3));
        var current = Read(recorder)[^1];
        Assert.Equal((1L, 0L, 1.0), (current.Requests, current.Failures, current.SuccessRate));
        Assert.InRange(current.P99!.Value.TotalMilliseconds, 3 / 1.19, 3 * 1.19); // the 2 s samples are gone
    }

    [Fact]
    public void A_sample_older_than_the_ring_is_dropped()
    {
        var recorder = new TrafficRecorder();
        long old = NowTicks;
        _time.Advance(s_bucket * TrafficRecorder.BucketCount);
        recorder.Record(NowTicks, AttemptOutcome.Success, TimeSpan.FromMilliseconds(1));

        recorder.Record(old, AttemptOutcome.Success, TimeSpan.FromMilliseconds(1)); // same slot, five minutes late

        Assert.Equal(1, Read(recorder)[^1].Requests);
    }

    [Fact]
    public void Without_a_recorder_the_series_is_thirty_empty_buckets()
    {
        var buckets = TrafficBuckets.Read(null, NowTicks, _time.GetUtcNow());

        Assert.Equal(TrafficRecorder.BucketCount, buckets.Length);
        Assert.All(buckets, b => Assert.Equal((0L, 0.0, null), (b.Requests, b.RequestsPerSecond, b.SuccessRate)));
    }

    [Fact]
    public void Concurrent_recording_loses_no_attempt()
    {
        var recorder = new TrafficRecorder();
        long now = NowTicks;

        Parallel.For(0, 8, _ =>
        {
            for (int i = 0; i < 10_000; i++)
            {
                recorder.Record(now, i % 10 == 0 ? AttemptOutcome.FailureStatus : AttemptOutcome.Success, TimeSpan.FromMilliseconds(i % 50));
            }
        });

        var current = Read(recorder)[^1];
        Assert.Equal((80_000L, 8_000L), (current.Requests, current.Failures));
    }

    [Fact]
    public void Recording_allocates_nothing()
    {
        var recorder = new TrafficRecorder();
        recorder.Record(NowTicks, AttemptOutcome.Success, TimeSpan.FromMilliseconds(1));

        long start = NowTicks;

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            long now = start + ((i / 1000) * s_bucket.Ticks); // ten roll-overs too
            recorder.Record(now, AttemptOutcome.Success, TimeSpan.FromMilliseconds(i % 100));
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
