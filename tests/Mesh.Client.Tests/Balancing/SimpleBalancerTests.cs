using Mesh.Client.Balancing;
using Mesh.Client.Discovery;

namespace Mesh.Client.Tests.Balancing;

public sealed class SimpleBalancerTests
{
    private static EndpointSet Set(int count) =>
        new(Enumerable.Range(1, count).Select(i => EndpointAddress.Parse($"127.0.0.1:{i}").Live()));

    [Fact]
    public void Round_robin_visits_every_endpoint_once_per_cycle()
    {
        var balancer = new RoundRobinBalancer();
        balancer.Update(Set(4));

        var picks = Enumerable.Range(0, 8).Select(_ => balancer.Pick(new PickContext())!.Port).ToArray();

        Assert.Equal([1, 2, 3, 4, 1, 2, 3, 4], picks);
    }

    [Fact]
    public void Round_robin_picks_only_routable_endpoints()
    {
        var balancer = new RoundRobinBalancer();
        balancer.Update(Set(3).WithRoutable([true, false, true], isPanic: false));

        var picks = Enumerable.Range(0, 4).Select(_ => balancer.Pick(new PickContext())!.Port).ToArray();

        Assert.Equal([1, 3, 1, 3], picks);
    }

    [Fact]
    public void Both_policies_avoid_excluded_endpoints_and_return_null_when_all_are_excluded()
    {
        var set = Set(3);
        foreach (ILoadBalancer balancer in new ILoadBalancer[] { new RoundRobinBalancer(), new RandomBalancer(new Random(7)) })
        {
            balancer.Update(set);
            var excluded = new[] { set[0], set[2] };
            for (int i = 0; i < 20; i++)
            {
                Assert.Same(set[1], balancer.Pick(new PickContext(null, null, excluded)));
            }

            Assert.Null(balancer.Pick(new PickContext(null, null, set.ToArray())));
        }
    }

    [Fact]
    public void Empty_set_picks_nothing()
    {
        var balancer = new RandomBalancer();
        balancer.Update(EndpointSet.Empty);

        Assert.Null(balancer.Pick(new PickContext()));
    }

    [Fact]
    public void Random_reaches_every_endpoint_roughly_evenly()
    {
        var balancer = new RandomBalancer(new Random(42));
        balancer.Update(Set(4));

        var counts = new int[5];
        for (int i = 0; i < 4000; i++)
        {
            counts[balancer.Pick(new PickContext())!.Port]++;
        }

        Assert.All(counts.Skip(1), c => Assert.InRange(c, 850, 1150));
    }
}
