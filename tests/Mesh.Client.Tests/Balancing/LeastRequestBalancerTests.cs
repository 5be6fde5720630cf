using Microsoft.Extensions.Time.Testing;
using Mesh.Client.Balancing;
using Mesh.Client.Discovery;

namespace Mesh.Client.Tests.Balancing;

public sealed class LeastRequestBalancerTests
{
    [Fact]
    public void Picks_the_endpoint_with_fewer_requests_in_flight()
    {
        var set = Endpoints.Many(2);
        var balancer = new LeastRequestBalancer(random: new Random(3));
        balancer.Update(set);
        _ = set[0].Begin(TimeProvider.System);
        _ = set[0].Begin(TimeProvider.System);
        for (int i = 0; i < 50; i++)
        {
            Assert.Same(set[1], balancer.PickOne());
        }
    }

    [Fact]
    public void With_unequal_weights_scores_weight_over_in_flight_plus_one()
    {
        var set = new EndpointSet([new MeshEndpoint("http", "10.0.0.1", 1, 4), new MeshEndpoint("http", "10.0.0.1", 2, 1)]);
        var time = new FakeTimeProvider(); // a frozen clock: no attempt here waits long enough to count as a stall
        var balancer = new LeastRequestBalancer(random: new Random(3), timeProvider: time);
        balancer.Update(set);
        _ = set[0].Begin(time);
        _ = set[0].Begin(time); // 4 / 3 > 1 / 1
        for (int i = 0; i < 50; i++)
        {
            Assert.Same(set[0], balancer.PickOne());
        }

        _ = set[0].Begin(time);
        _ = set[0].Begin(time); // 4 / 5 < 1 / 1
        for (int i = 0; i < 50; i++)
        {
            Assert.Same(set[1], balancer.PickOne());
        }
    }

    [Fact]
    public void Full_scan_finds_the_only_idle_endpoint_among_many()
    {
        var set = Endpoints.Many(50);
        foreach (var endpoint in set.Where((_, i) => i != 37))
        {
            _ = endpoint.Begin(TimeProvider.System);
        }

        var balancer = new LeastRequestBalancer(new LeastRequestOptions { FullScan = true });
        balancer.Update(set);
        for (int i = 0; i < 20; i++)
        {
            Assert.Same(set[37], balancer.PickOne());
        }

        Assert.NotSame(set[37], balancer.Pick(new PickContext(null, null, [set[37]])));
    }

    [Fact]
    public void More_choices_find_idle_endpoints_more_often()
    {
        var set = Endpoints.Many(100);
        foreach (var endpoint in set.Where((_, i) => i % 10 != 0))
        {
            _ = endpoint.Begin(TimeProvider.System);
        }

        int IdleHits(int choices)
        {
            var balancer = new LeastRequestBalancer(new LeastRequestOptions { ChoiceCount = choices }, new Random(11));
            balancer.Update(set);
            return Enumerable.Range(0, 2000).Count(_ => balancer.PickOne().Load.InFlight == 0);
        }

        Assert.True(IdleHits(8) > IdleHits(2));
    }

    [Fact]
    public void Avoids_excluded_endpoints_and_picks_nothing_when_all_are()
    {
        var set = Endpoints.Many(3);
        var balancer = new LeastRequestBalancer();
        balancer.Update(set);
        for (int i = 0; i < 30; i++)
        {
            Assert.Same(set[2], balancer.Pick(new PickContext(null, null, [set[0], set[1]])));
        }

        Assert.Null(balancer.Pick(new PickContext(null, null, set.Endpoints)));
    }

    [Fact]
    public void A_choice_count_below_two_is_rejected()
    {
        var error = Assert.Throws<ArgumentException>(() => new LeastRequestBalancer(new LeastRequestOptions { ChoiceCount = 1 }));
        Assert.Contains("ChoiceCount' is '1'", error.Message, StringComparison.Ordinal);
    }
}
