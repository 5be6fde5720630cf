using Mesh.Client.Balancing;
using Mesh.Client.Discovery;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Client.Tests.Balancing;

/// <summary>
/// A replica that has just got stuck says so through the attempts waiting on it, before its first slow
/// answer comes back. PeakEwma takes the stall (time without any answer while attempts wait) as its latency when it is
/// longer than the estimate; LeastRequest multiplies the in-flight count by stall / estimate. All on a fake clock.
/// </summary>
public sealed class StallBalancingTests
{
    private static readonly TimeSpan Normal = TimeSpan.FromMilliseconds(50);
    private readonly FakeTimeProvider _time = new();

    private long Now => MonotonicClock.Ticks(_time, _time.GetTimestamp());

    /// <summary>Equal within 0.1 ms: the fake clock's timestamps convert to ticks through a double.</summary>
    private static void AssertTicks(TimeSpan expected, double actual) =>
        Assert.InRange(actual, expected.Ticks - 1000, expected.Ticks + 1000);

    /// <summary>Two endpoints that have each answered once in 50 ms.</summary>
    private EndpointSet TwoWarmEndpoints()
    {
        var set = Endpoints.Many(2);
        foreach (var endpoint in set)
        {
            var lease = endpoint.Begin(_time);
            _time.Advance(Normal);
            lease.Complete(AttemptOutcome.Success, 200);
        }

        return set;
    }

    private static int IndexOf(EndpointSet set, MeshEndpoint endpoint)
    {
        for (int i = 0; i < set.Count; i++)
        {
            if (ReferenceEquals(set[i], endpoint))
            {
                return i;
            }
        }

        throw new InvalidOperationException("Not a member.");
    }

    private ILoadBalancer Balancer(string policy, EndpointSet set)
    {
        ILoadBalancer balancer = policy == "PeakEwma"
            ? new PeakEwmaBalancer(timeProvider: _time, random: new Random(3))
            : new LeastRequestBalancer(random: new Random(3), timeProvider: _time);
        balancer.Update(set);
        return balancer;
    }

    [Fact]
    public void A_response_body_still_streaming_is_in_flight_but_not_a_stall()
    {
        var endpoint = Endpoints.Many(1)[0];
        var streaming = endpoint.Begin(_time);
        _time.Advance(Normal);
        streaming.RecordResponse(AttemptOutcome.Success, penalise: false); // headers came back; the body streams on
        _time.Advance(TimeSpan.FromSeconds(30));

        Assert.Equal(1, endpoint.InFlight);
        Assert.Equal(0, endpoint.Load.GetStallTicks(Now)); // the endpoint answered: a long stream is load, not a stall

        streaming.End();
        Assert.Equal(0, endpoint.InFlight);
    }

    [Theory]
    [InlineData("PeakEwma")]
    [InlineData("LeastRequest")]
    public void A_stuck_endpoint_with_an_old_attempt_in_flight_loses_picks_before_any_answer_returns(string policy)
    {
        var set = TwoWarmEndpoints();
        var balancer = Balancer(policy, set);

        // set[0] takes one attempt and gets stuck on it; set[1] has two fresh attempts in flight.
        var stuck = set[0].Begin(_time);
        _time.Advance(TimeSpan.FromMilliseconds(20));
        var busy = new[] { set[1].Begin(_time), set[1].Begin(_time) };

        // 20 ms is shorter than a normal answer: nothing is known yet, and the shorter queue wins.
        AssertTicks(TimeSpan.FromMilliseconds(20), set[0].Load.GetStallTicks(Now));
        for (int i = 0; i < 20; i++)
        {
            Assert.Same(set[0], balancer.PickOne());
        }

        // 200 ms without an answer, four times the estimate: set[0] is at least that slow. It has not answered yet;
        // set[1] answered its two in 50 ms and has two fresh ones in flight.
        _time.Advance(TimeSpan.FromMilliseconds(50));
        foreach (var lease in busy)
        {
            lease.Complete(AttemptOutcome.Success, 200);
        }

        _time.Advance(TimeSpan.FromMilliseconds(130));
        _ = set[1].Begin(_time);
        _ = set[1].Begin(_time);
        AssertTicks(TimeSpan.FromMilliseconds(200), set[0].Load.GetStallTicks(Now));
        Assert.Equal(1, set[0].Load.InFlight);
        for (int i = 0; i < 20; i++)
        {
            Assert.Same(set[1], balancer.PickOne());
        }

        stuck.Complete(AttemptOutcome.Canceled); // tidy: the stuck attempt is given up
    }

    [Fact]
    public void PeakEwma_charges_the_stall_as_the_latency_when_it_is_longer_than_the_estimate()
    {
        var set = TwoWarmEndpoints();
        _ = set[0].Begin(_time);
        _ = set[0].Begin(_time);
        _time.Advance(TimeSpan.FromMilliseconds(10));
        double estimate = set[0].Load.GetRttEstimateTicks(Now);
        AssertTicks(TimeSpan.FromTicks((long)estimate * 3), set[0].Load.GetCost(Now)); // shorter than the estimate: the estimate

        _time.Advance(TimeSpan.FromMilliseconds(290));
        AssertTicks(TimeSpan.FromMilliseconds(900), set[0].Load.GetCost(Now)); // 300 ms × (2 + 1)
        Assert.InRange(set[0].Load.GetRttEstimateTicks(Now), TimeSpan.FromMilliseconds(45).Ticks, TimeSpan.FromMilliseconds(50).Ticks); // nothing recorded: 50 ms, decaying
    }

    [Fact]
    public void The_stall_is_a_lower_bound_on_the_oldest_attempt_and_any_answer_ends_it()
    {
        var endpoint = Endpoints.Many(1)[0];
        Assert.Equal(0, endpoint.Load.GetStallTicks(Now)); // idle

        var first = endpoint.Begin(_time);   // t = 0
        _time.Advance(TimeSpan.FromMilliseconds(10));
        var second = endpoint.Begin(_time);  // t = 10: the oldest is still the first
        _time.Advance(TimeSpan.FromMilliseconds(90));
        AssertTicks(TimeSpan.FromMilliseconds(100), endpoint.Load.GetStallTicks(Now)); // exact: the first's age

        first.Complete(AttemptOutcome.Success, 200); // t = 100: it answered, the second has waited 90 ms
        _time.Advance(TimeSpan.FromMilliseconds(30));
        AssertTicks(TimeSpan.FromMilliseconds(30), endpoint.Load.GetStallTicks(Now)); // ≤ 120 ms, the second's age

        second.Complete(AttemptOutcome.Success, 200);
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(0, endpoint.Load.GetStallTicks(Now)); // nothing waits: no stall, however long it has been

        _ = endpoint.Begin(_time); // busy again: the stall starts at this attempt, not at the last answer
        _time.Advance(TimeSpan.FromMilliseconds(7));
        AssertTicks(TimeSpan.FromMilliseconds(7), endpoint.Load.GetStallTicks(Now));
    }

    [Theory]
    [InlineData("PeakEwma")]
    [InlineData("LeastRequest")]
    public void A_stuck_endpoint_recovers_its_share_after_it_answers(string policy)
    {
        var set = Endpoints.Many(4);
        var balancer = Balancer(policy, set);
        var picks = new int[set.Count];

        // Closed-loop traffic in 10 ms steps: each step picks once, and everything picked answers within the step,
        // except on set[0] while it is stuck (from 1 s to 3 s), where attempts wait until the stall ends.
        var waiting = new List<EndpointLease>();
        bool stuck = false;
        int Step(int steps)
        {
            int toStuck = 0;
            for (int s = 0; s < steps; s++)
            {
                var endpoint = balancer.PickOne();
                var lease = endpoint.Begin(_time);
                if (stuck && endpoint == set[0])
                {
                    waiting.Add(lease);
                    toStuck++;
                }
                else
                {
                    _time.Advance(TimeSpan.FromMilliseconds(5));
                    lease.Complete(AttemptOutcome.Success, 200);
                }

                picks[IndexOf(set, endpoint)]++;
                _time.Advance(TimeSpan.FromMilliseconds(5));
            }

            return toStuck;
        }

        Step(100);
        stuck = true;
        int sentToStuck = Step(200); // 2 s stuck
        Assert.InRange(sentToStuck, 1, 3); // it takes what it gets until its first attempt is older than a normal answer

        stuck = false;
        foreach (var lease in waiting)
        {
            lease.Complete(AttemptOutcome.Success, 200); // the stall ends: its answers come back (slow ones)
        }

        // After it answers, it is picked again: at once for LeastRequest (nothing in flight, nothing stalled); for
        // PeakEwma once the 2 s peak its slow answers recorded has decayed to the others' cost (10 s constant: about
        // 60 s from 2 s to 5 ms), and then its fresh answers pull its estimate back to theirs.
        Array.Clear(picks);
        Step(policy == "PeakEwma" ? 10_000 : 400);
        int total = picks.Sum();
        if (policy == "PeakEwma")
        {
            Assert.True(picks[0] > 0, "set[0] was never picked again after it recovered");
            double others = set[1].Load.GetRttEstimateTicks(Now);
            Assert.InRange(set[0].Load.GetRttEstimateTicks(Now), 0, others * 2);
        }
        else
        {
            Assert.True(picks[0] > total / 4 / 2, $"set[0] got {picks[0]} of {total} picks after it recovered");
        }
    }
    [Fact]
    public void LeastRequest_measures_a_stall_against_the_healthier_candidates_estimate()
    {
        var set = TwoWarmEndpoints();
        var balancer = Balancer("LeastRequest", set);

        // set[0]'s first stuck answers raised its own estimate to 2 s.
        var slow = set[0].Begin(_time);
        _time.Advance(TimeSpan.FromSeconds(2));
        slow.Complete(AttemptOutcome.Success, 200);

        // It takes another attempt and 300 ms pass without an answer: short of its own 2 s estimate, but six times
        // set[1]'s 50 ms. set[1] has two fresh attempts in flight.
        _ = set[0].Begin(_time);
        _time.Advance(TimeSpan.FromMilliseconds(300));
        _ = set[1].Begin(_time);
        _ = set[1].Begin(_time);
        for (int i = 0; i < 20; i++)
        {
            Assert.Same(set[1], balancer.PickOne()); // set[0]: (1 + 1) × 6 = 12 > set[1]: 2 + 1
        }
    }
}
