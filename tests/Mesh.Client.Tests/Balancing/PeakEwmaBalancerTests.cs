using Mesh.Client.Balancing;
using Mesh.Client.Discovery;
using Mesh.Client.Routing;
using Mesh.Client.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Client.Tests.Balancing;

public sealed class PeakEwmaBalancerTests
{
    private readonly FakeTimeProvider _time = new();

    private void Respond(MeshEndpoint endpoint, TimeSpan latency, AttemptOutcome outcome = AttemptOutcome.Success, int status = 200)
    {
        var lease = endpoint.Begin(_time);
        _time.Advance(latency);
        lease.Complete(outcome, status);
    }

    private PeakEwmaBalancer Balancer(EndpointSet set, PeakEwmaOptions? options = null, int seed = 7)
    {
        var balancer = new PeakEwmaBalancer(options, _time, new Random(seed));
        balancer.Update(set);
        return balancer;
    }

    [Fact]
    public void Prefers_the_endpoint_with_the_lower_latency_estimate()
    {
        var set = Endpoints.Many(2);
        var balancer = Balancer(set);
        Respond(set[0], TimeSpan.FromMilliseconds(100));
        Respond(set[1], TimeSpan.FromMilliseconds(10));

        for (int i = 0; i < 50; i++)
        {
            Assert.Same(set[1], balancer.PickOne());
        }
    }

    [Fact]
    public void A_new_endpoint_of_a_service_faster_than_the_seed_is_tried_at_once_and_its_first_answer_measures_it()
    {
        var set = Endpoints.Many(3);
        var balancer = Balancer(set);
        Respond(set[0], TimeSpan.FromMilliseconds(1)); // the service answers in 1 ms, well under the 30 ms seed
        Respond(set[1], TimeSpan.FromMilliseconds(1));

        // set[2] has no sample: against a 1 ms endpoint it counts as 1 ms, not 30, so it wins its share of the draws
        // (a tie with nothing in flight goes to the first drawn: about one pick in three).
        int picked = Enumerable.Range(0, 90).Count(_ => ReferenceEquals(balancer.PickOne(), set[2]));
        Assert.InRange(picked, 15, 60);

        Respond(set[2], TimeSpan.FromMilliseconds(20)); // its first answer says it is slower than the others
        for (int i = 0; i < 50; i++)
        {
            Assert.NotSame(set[2], balancer.PickOne());
        }
    }

    [Fact]
    public void Charges_for_requests_in_flight()
    {
        var set = Endpoints.Many(2);
        var balancer = Balancer(set);
        Respond(set[0], TimeSpan.FromMilliseconds(10));
        Respond(set[1], TimeSpan.FromMilliseconds(10));
        _ = set[0].Begin(_time); // cost of set[0]: 10 ms x 2; set[1]: 10 ms x 1

        for (int i = 0; i < 50; i++)
        {
            Assert.Same(set[1], balancer.PickOne());
        }
    }

    [Fact]
    public void Compares_two_distinct_random_endpoints_and_gives_ties_to_the_first_drawn()
    {
        var set = Endpoints.Many(8);
        var balancer = Balancer(set, seed: 42);
        var twin = new Random(42);
        for (int i = 0; i < 200; i++)
        {
            ulong bits = (ulong)twin.NextInt64();
            int first = (int)(((bits & 0xFFFF_FFFFUL) * 8) >> 32);
            int second = (int)(((bits >> 32) * 7) >> 31);
            Assert.NotEqual(first, second >= first ? second + 1 : second);
            Assert.Same(set[first], balancer.PickOne()); // all fresh: equal costs
        }
    }

    [Fact]
    public void A_slow_endpoint_that_gets_no_traffic_decays_until_it_is_tried_again()
    {
        var set = Endpoints.Many(2);
        var balancer = Balancer(set);
        Respond(set[0], TimeSpan.FromMilliseconds(10));
        Respond(set[1], TimeSpan.FromMilliseconds(500));
        Assert.Same(set[0], balancer.PickOne());

        // set[0] keeps answering in 10 ms; set[1] gets nothing, so its 500 ms estimate decays on read (10 s constant).
        for (int second = 0; second < 60; second++)
        {
            Respond(set[0], TimeSpan.FromMilliseconds(10));
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.Same(set[1], balancer.PickOne());
    }

    [Fact]
    public void A_fast_failing_endpoint_is_penalised_instead_of_attracting_traffic()
    {
        var set = Endpoints.Many(2);
        var balancer = Balancer(set);
        Respond(set[1], TimeSpan.FromMilliseconds(20));
        for (int i = 0; i < 3; i++)
        {
            Respond(set[0], TimeSpan.FromMilliseconds(1), AttemptOutcome.FailureStatus, 503);
        }

        Assert.Same(set[1], balancer.PickOne());
        Assert.True(set[0].Load.GetRttEstimateTicks(MonotonicClock.Ticks(_time, _time.GetTimestamp())) > TimeSpan.FromMilliseconds(100).Ticks);
    }

    [Theory]
    [InlineData((int)AttemptOutcome.Success, 500)]
    [InlineData((int)AttemptOutcome.Success, 429)]
    [InlineData((int)AttemptOutcome.ConnectFailure, 0)]
    [InlineData((int)AttemptOutcome.Timeout, 0)]
    public void Failures_of_every_kind_record_a_penalised_latency(int outcomeValue, int status)
    {
        var outcome = (AttemptOutcome)outcomeValue;
        var endpoint = Endpoints.Many(1)[0];
        Respond(endpoint, TimeSpan.FromMilliseconds(10));
        Respond(endpoint, TimeSpan.FromMilliseconds(1), outcome, status);
        long now = MonotonicClock.Ticks(_time, _time.GetTimestamp());
        Assert.Equal(TimeSpan.FromMilliseconds(30 * 2).Ticks, endpoint.Load.GetRttEstimateTicks(now), 0);
    }

    [Fact]
    public void A_fast_success_is_not_penalised_and_a_cancellation_counts_only_as_a_lower_bound()
    {
        var endpoint = Endpoints.Many(1)[0];
        Respond(endpoint, TimeSpan.FromMilliseconds(10));
        long Now() => MonotonicClock.Ticks(_time, _time.GetTimestamp());
        Assert.True(endpoint.Load.GetRttEstimateTicks(Now()) <= TimeSpan.FromMilliseconds(10).Ticks);

        Respond(endpoint, TimeSpan.FromMilliseconds(5), AttemptOutcome.Canceled, 0); // shorter: says nothing
        Assert.True(endpoint.Load.GetRttEstimateTicks(Now()) is > 9.9e4 and <= 1e5);

        Respond(endpoint, TimeSpan.FromMilliseconds(900), AttemptOutcome.Canceled, 0); // took at least 900 ms
        Assert.Equal(TimeSpan.FromMilliseconds(900).Ticks, endpoint.Load.GetRttEstimateTicks(Now()), 0);
        Assert.Equal(0, endpoint.Load.InFlight);
    }

    [Fact]
    public void Seed_decay_and_penalty_apply_to_the_endpoints_it_balances()
    {
        var set = Endpoints.Many(2);
        _ = Balancer(set, new PeakEwmaOptions { SeedRtt = TimeSpan.FromMilliseconds(5), Decay = TimeSpan.FromSeconds(2), FailurePenaltyFactor = 3 });
        Assert.Equal(TimeSpan.FromMilliseconds(5), set[1].Load.SeedRtt);
        Assert.Equal(TimeSpan.FromSeconds(2), set[1].Load.Decay);
        Assert.Equal(3, set[1].Load.FailurePenaltyFactor);
    }

    [Fact]
    public void Picks_only_routable_endpoints_and_avoids_excluded_ones()
    {
        var set = Endpoints.Many(5).OnlyRoutable(1, 3);
        var balancer = Balancer(set);
        for (int i = 0; i < 50; i++)
        {
            var picked = balancer.PickOne();
            Assert.True(ReferenceEquals(picked, set[1]) || ReferenceEquals(picked, set[3]));
            Assert.Same(set[3], balancer.Pick(new PickContext(null, null, [set[1]])));
        }

        Assert.Null(balancer.Pick(new PickContext(null, null, [set[1], set[3]])));
        balancer.Update(EndpointSet.Empty);
        Assert.Null(balancer.Pick(new PickContext()));
    }

    [Fact]
    public void Bad_settings_are_rejected_with_the_setting_and_value_named()
    {
        var error = Assert.Throws<ArgumentException>(() => new PeakEwmaBalancer(new PeakEwmaOptions { Decay = TimeSpan.Zero, FailurePenaltyFactor = 0.5 }));
        Assert.Contains("options:Decay' is '00:00:00'", error.Message, StringComparison.Ordinal);
        Assert.Contains("options:FailurePenaltyFactor' is '0.5'", error.Message, StringComparison.Ordinal);
    }
}

public sealed class PeakEwmaSystemClockTests
{
    [Fact]
    public void With_the_system_clock_a_slow_endpoint_is_avoided_and_decay_uses_a_clock_close_to_the_precise_one()
    {
        var set = Endpoints.Many(2);
        var balancer = new PeakEwmaBalancer();
        balancer.Update(set);
        long now = MonotonicClock.Ticks(TimeProvider.System, TimeProvider.System.GetTimestamp());
        set[0].Load.RecordRtt(TimeSpan.FromMilliseconds(500), now);
        set[1].Load.RecordRtt(TimeSpan.FromMilliseconds(5), now);
        for (int i = 0; i < 100; i++)
        {
            Assert.Same(set[1], balancer.PickOne());
        }

        // A sample stamped an hour ago has decayed to nothing: the balancer's clock is not behind the precise one.
        set[0].Load.RecordRtt(TimeSpan.FromMilliseconds(500), now - TimeSpan.FromHours(1).Ticks);
        set[1].Load.RecordRtt(TimeSpan.FromMilliseconds(5), now);
        Assert.Same(set[0], balancer.PickOne());
    }
}
