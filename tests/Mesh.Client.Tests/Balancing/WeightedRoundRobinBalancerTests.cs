using Mesh.Client.Balancing;
using Mesh.Client.Discovery;

namespace Mesh.Client.Tests.Balancing;

public sealed class WeightedRoundRobinBalancerTests
{
    [Theory]
    [InlineData(new[] { 5, 1, 1 })]
    [InlineData(new[] { 1, 2, 3, 4 })]
    [InlineData(new[] { 100, 1 })]
    [InlineData(new[] { 7, 7, 7 })]
    [InlineData(new[] { 6, 4 })]
    public void Every_cycle_gives_each_endpoint_exactly_its_weight_in_turns(int[] weights)
    {
        var set = new EndpointSet(weights.Select((w, i) => new MeshEndpoint("http", "10.0.0.1", 8000 + i, w)));
        var balancer = new WeightedRoundRobinBalancer();
        balancer.Update(set);

        int gcd = weights.Aggregate(0, (a, b) => (int)System.Numerics.BigInteger.GreatestCommonDivisor(a, b));
        int cycle = weights.Sum() / gcd;
        for (int round = 0; round < 3; round++)
        {
            var counts = new int[weights.Length];
            for (int t = 0; t < cycle; t++)
            {
                counts[set.Endpoints.IndexOf(balancer.PickOne())]++;
            }

            Assert.Equal(weights.Select(w => w / gcd), counts);
        }
    }

    // Smooth: in every window of the (repeating) sequence, each endpoint's count stays within 1.5 of its fair share.
    // A bunched schedule (all of one endpoint's turns, then the next's) fails this for 10,10,1 by 5 turns.
    [Theory]
    [InlineData(new[] { 10, 10, 1 })]
    [InlineData(new[] { 5, 1, 1 })]
    [InlineData(new[] { 3, 7, 2, 9 })]
    public void Turns_are_spread_through_the_cycle_not_bunched(int[] weights)
    {
        var set = new EndpointSet(weights.Select((w, i) => new MeshEndpoint("http", "10.0.0.1", 8000 + i, w)));
        var balancer = new WeightedRoundRobinBalancer();
        balancer.Update(set);
        int total = weights.Sum();
        var sequence = Enumerable.Range(0, 2 * total).Select(_ => balancer.PickOne().Port - 8000).ToArray();

        for (int length = 1; length <= total; length++)
        {
            for (int start = 0; start < total; start++)
            {
                for (int e = 0; e < weights.Length; e++)
                {
                    int count = 0;
                    for (int t = start; t < start + length; t++)
                    {
                        count += sequence[t] == e ? 1 : 0;
                    }

                    double fair = (double)length * weights[e] / total;
                    Assert.True(Math.Abs(count - fair) < 1.5, $"Endpoint {e} has {count} turns in [{start}, {start + length}); fair is {fair:F2}. Sequence: {string.Join(",", sequence[..total])}");
                }
            }
        }
    }

    [Fact]
    public void Only_routable_endpoints_get_turns_and_a_retry_skips_excluded_ones()
    {
        var set = Endpoints.Many(4).OnlyRoutable(1, 3);
        var balancer = new WeightedRoundRobinBalancer();
        balancer.Update(set);
        for (int i = 0; i < 20; i++)
        {
            var picked = balancer.PickOne();
            Assert.True(ReferenceEquals(picked, set[1]) || ReferenceEquals(picked, set[3]));
            Assert.Same(set[3], balancer.Pick(new PickContext(null, null, [set[1]])));
        }

        Assert.Null(balancer.Pick(new PickContext(null, null, [set[1], set[3]])));
    }

    [Fact]
    public void A_huge_weight_sum_is_scaled_to_a_bounded_cycle_keeping_every_endpoint()
    {
        var set = new EndpointSet([new MeshEndpoint("http", "10.0.0.1", 1, int.MaxValue), new MeshEndpoint("http", "10.0.0.1", 2, 3)]);
        var cycle = WeightedRoundRobinBalancer.BuildCycle(set.RoutableArray_());
        Assert.InRange(cycle.Length, 1, WeightedRoundRobinBalancer.MaxCycleLength + 2);
        Assert.Contains(1, cycle);
    }

    [Fact]
    public void An_empty_set_picks_nothing()
    {
        var balancer = new WeightedRoundRobinBalancer();
        Assert.Null(balancer.Pick(new PickContext()));
    }
}

internal static class EndpointSetTestExtensions
{
    public static MeshEndpoint[] RoutableArray_(this EndpointSet set) => set.Routable.ToArray();

    public static int IndexOf(this ReadOnlySpan<MeshEndpoint> endpoints, MeshEndpoint endpoint)
    {
        for (int i = 0; i < endpoints.Length; i++)
        {
            if (ReferenceEquals(endpoints[i], endpoint))
            {
                return i;
            }
        }

        return -1;
    }
}
