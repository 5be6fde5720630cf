using Mesh.Client.Balancing;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Client.Tests.Balancing;

/// <summary>
/// A peak learnt from an attempt the stall had already charged for (a replica stuck for 2 s) holds traffic away as any
/// peak does, but the first success of an attempt sent after it replaces it, instead of being averaged against it for
/// tens of seconds. Other peaks, failures and cancellations keep the usual Peak-EWMA behaviour. All on a fake clock.
/// </summary>
public sealed class StallPeakTests
{
    private static readonly TimeSpan Normal = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan Stuck = TimeSpan.FromSeconds(2);
    private readonly FakeTimeProvider _time = new();

    private long Now => MonotonicClock.Ticks(_time, _time.GetTimestamp());

    private static void AssertMs(double expectedMs, double actualTicks) =>
        Assert.InRange(actualTicks / TimeSpan.TicksPerMillisecond, expectedMs - 0.1, expectedMs + 0.1);

    /// <summary>An endpoint that has answered once in 50 ms, then was stuck on one attempt for 2 s (nothing else answered).</summary>
    private MeshEndpoint AfterAStall()
    {
        var endpoint = Endpoints.Many(1)[0];
        Answer(endpoint, Normal);
        Answer(endpoint, Stuck);
        Assert.True(endpoint.Load.HoldsStallPeak);
        AssertMs(2000, endpoint.Load.GetLastEstimateTicks());
        return endpoint;
    }

    private void Answer(MeshEndpoint endpoint, TimeSpan after, AttemptOutcome outcome = AttemptOutcome.Success)
    {
        var lease = endpoint.Begin(_time);
        _time.Advance(after);
        lease.Complete(outcome, outcome == AttemptOutcome.FailureStatus ? 503 : 200);
    }

    /// <summary>A 50 ms sample 5.05 s after a 2 s peak, averaged with the 10 s decay.</summary>
    private static void AssertAveragedFiveSecondsAfterThePeak(MeshEndpoint endpoint)
    {
        double weight = Math.Exp(-5.05 / 10);
        AssertMs((2000 * weight) + (50 * (1 - weight)), endpoint.Load.GetLastEstimateTicks());
    }

    private void KeepAnswering(MeshEndpoint endpoint, TimeSpan duration)
    {
        for (var spent = TimeSpan.Zero; spent < duration; spent += Normal)
        {
            Answer(endpoint, Normal);
        }
    }

    [Fact]
    public void A_success_sent_after_a_stall_peak_replaces_it()
    {
        var endpoint = AfterAStall();
        _time.Advance(TimeSpan.FromSeconds(5));

        Answer(endpoint, Normal);

        // Averaged with the 10 s decay, the estimate would still be 2 s × e^-0.5 + 50 ms × (1 - e^-0.5) ≈ 1.23 s.
        AssertMs(50, endpoint.Load.GetLastEstimateTicks());
        Assert.False(endpoint.Load.HoldsStallPeak);
    }

    [Fact]
    public void Until_then_the_stall_peak_decays_on_read_like_any_peak()
    {
        var endpoint = AfterAStall();
        _time.Advance(TimeSpan.FromSeconds(10));

        AssertMs(2000 * Math.Exp(-1), endpoint.Load.GetRttEstimateTicks(Now));
    }

    [Fact]
    public void Without_the_replacement_a_success_is_averaged_against_the_peak()
    {
        var endpoint = AfterAStall();
        endpoint.Load.ReplacesDisprovedStallPeaks = false;
        _time.Advance(TimeSpan.FromSeconds(5));

        Answer(endpoint, Normal);

        AssertAveragedFiveSecondsAfterThePeak(endpoint);
    }

    [Fact]
    public void A_fast_answer_to_an_attempt_sent_before_the_stall_peak_was_learnt_does_not_replace_it()
    {
        var endpoint = Endpoints.Many(1)[0];
        Answer(endpoint, Normal);

        // Two attempts wait on a stuck replica; the first answers after 2 s, the second 10 ms later.
        var first = endpoint.Begin(_time);
        _time.Advance(TimeSpan.FromSeconds(1));
        var second = endpoint.Begin(_time);
        _time.Advance(TimeSpan.FromSeconds(1));
        first.Complete(AttemptOutcome.Success, 200);
        Assert.True(endpoint.Load.HoldsStallPeak);
        _time.Advance(TimeSpan.FromMilliseconds(10));
        second.Complete(AttemptOutcome.Success, 200);

        Assert.True(endpoint.Load.HoldsStallPeak);
        Assert.InRange(endpoint.Load.GetLastEstimateTicks() / TimeSpan.TicksPerMillisecond, 1900, 2000.1);
    }

    [Fact]
    public void A_slower_answer_from_the_same_stall_keeps_the_peak_a_stall_peak()
    {
        var endpoint = Endpoints.Many(1)[0];
        Answer(endpoint, Normal);

        // Two attempts 10 ms apart on a stuck replica; the second answers 10 ms after the first, 1 ms slower (a new peak,
        // with only 10 ms since the last answer).
        var first = endpoint.Begin(_time);
        _time.Advance(TimeSpan.FromMilliseconds(10));
        var second = endpoint.Begin(_time);
        _time.Advance(TimeSpan.FromMilliseconds(1990));
        first.Complete(AttemptOutcome.Success, 200);
        _time.Advance(TimeSpan.FromMilliseconds(11));
        second.Complete(AttemptOutcome.Success, 200);
        Assert.True(endpoint.Load.HoldsStallPeak);

        _time.Advance(TimeSpan.FromSeconds(5));
        Answer(endpoint, Normal);
        AssertMs(50, endpoint.Load.GetLastEstimateTicks());
    }

    [Theory]
    [InlineData(nameof(AttemptOutcome.FailureStatus))]
    [InlineData(nameof(AttemptOutcome.ConnectFailure))]
    [InlineData(nameof(AttemptOutcome.Canceled))]
    public void A_failure_or_a_cancellation_does_not_say_the_stall_is_over(string outcomeName)
    {
        var outcome = Enum.Parse<AttemptOutcome>(outcomeName);
        var endpoint = AfterAStall();
        _time.Advance(TimeSpan.FromSeconds(5));

        Answer(endpoint, Normal, outcome);

        Assert.True(endpoint.Load.GetLastEstimateTicks() > TimeSpan.FromMilliseconds(500).Ticks);
    }

    [Fact]
    public void A_slow_answer_while_the_endpoint_kept_answering_others_is_an_ordinary_peak()
    {
        var endpoint = Endpoints.Many(1)[0];
        Answer(endpoint, Normal);

        // One attempt takes 2 s; meanwhile the endpoint answers others every 50 ms: it is slow for one request, not stuck.
        var slow = endpoint.Begin(_time);
        for (int i = 0; i < 40; i++)
        {
            Answer(endpoint, Normal);
        }

        slow.Complete(AttemptOutcome.Success, 200);
        Assert.False(endpoint.Load.HoldsStallPeak);
        AssertMs(2000, endpoint.Load.GetLastEstimateTicks());

        _time.Advance(TimeSpan.FromSeconds(5));
        Answer(endpoint, Normal);

        AssertAveragedFiveSecondsAfterThePeak(endpoint);
    }

    [Fact]
    public void PeakEwma_keeps_a_stuck_replica_out_until_the_decayed_peak_is_worth_a_probe_then_gives_it_its_share_after_one_fast_answer()
    {
        var set = Endpoints.Many(2);
        var stuck = set[0];
        var healthy = set[1];
        Answer(healthy, Normal);
        Answer(stuck, Normal);
        Answer(stuck, Stuck);
        var balancer = new PeakEwmaBalancer(timeProvider: _time, random: new Random(5));
        balancer.Update(set);

        // The healthy replica keeps answering in 50 ms and holds one fresh attempt (cost 50 ms × 2 = 100 ms). The stuck
        // one's 2 s peak decays on read with the 10 s constant: it costs more than 100 ms until 10 s × ln(20) ≈ 30 s later.
        KeepAnswering(healthy, TimeSpan.FromSeconds(25));
        var held = healthy.Begin(_time);
        Assert.Same(healthy, balancer.PickOne());
        held.Complete(AttemptOutcome.Success, 200);
        KeepAnswering(healthy, TimeSpan.FromSeconds(6));
        held = healthy.Begin(_time);
        Assert.Same(stuck, balancer.PickOne()); // the probe

        // The probe answers in 50 ms: the replica is back, not 50 ms pulled against a 2 s peak.
        Answer(stuck, Normal);
        AssertMs(50, stuck.Load.GetRttEstimateTicks(Now));
        int toStuck = 0;
        for (int i = 0; i < 100; i++)
        {
            toStuck += balancer.PickOne() == stuck ? 1 : 0;
        }

        Assert.Equal(100, toStuck); // 50 ms × 1 beats 50 ms × 2: the healthy replica still holds its attempt
        held.Complete(AttemptOutcome.Success, 200);
    }
}
