using Mesh.Client.Balancing;
using Mesh.Client.Discovery;

namespace Mesh.Client.Tests.Balancing;

/// <summary>Maglev, checked against Envoy's published maglev_lb_test.cc vectors and the proofs.</summary>
public sealed class MaglevBalancerTests
{
    private static void AssertAssignments(ILoadBalancer balancer, EndpointSet set, int[] expected)
    {
        for (uint i = 0; i < 3 * expected.Length; i++)
        {
            Assert.Same(set[expected[i % expected.Length]], balancer.PickFor(i));
        }
    }

    // Envoy MaglevLoadBalancerTest.Basic: hosts 127.0.0.1:90..95, table size 7.
    [Fact]
    public void Picks_what_envoy_picks_in_its_basic_test()
    {
        var set = Endpoints.Ports(90, 91, 92, 93, 94, 95);
        var balancer = new MaglevBalancer(new MaglevOptions { TableSize = 7 });
        balancer.Update(set);
        AssertAssignments(balancer, set, [2, 4, 0, 1, 5, 0, 3]);
        Assert.Same(set[1], balancer.PickFor(10));
    }

    // Envoy MaglevLoadBalancerTest.BasicWithHostName / BasicWithMetadataHashKey: hash keys "90".."95".
    [Fact]
    public void Uses_the_endpoint_hash_key_as_envoy_uses_hostname_or_metadata_hash_key()
    {
        var set = new EndpointSet(Enumerable.Range(90, 6).Select(p => new MeshEndpoint("http", "127.0.0.1", p, hashKey: p.ToString(System.Globalization.CultureInfo.InvariantCulture))));
        var balancer = new MaglevBalancer(new MaglevOptions { TableSize = 7 });
        balancer.Update(set);
        AssertAssignments(balancer, set, [2, 5, 0, 3, 4, 1, 0]);
    }

    // Envoy MaglevLoadBalancerTest.BasicStability: the table does not depend on the order the resolver lists hosts in.
    [Fact]
    public void The_table_does_not_depend_on_the_resolvers_order()
    {
        var set = Endpoints.Ports(93, 90, 95, 91, 94, 92);
        var balancer = new MaglevBalancer(new MaglevOptions { TableSize = 7 });
        balancer.Update(set);
        int[] byPort = [92, 94, 90, 91, 95, 90, 93];
        for (uint i = 0; i < 7; i++)
        {
            Assert.Equal(byPort[i], balancer.PickFor(i).Port);
        }
    }

    // Envoy MaglevLoadBalancerTest.Weighted: weights 1 and 2, table size 17.
    [Fact]
    public void Gives_weighted_hosts_envoys_slots()
    {
        var set = new EndpointSet([new MeshEndpoint("http", "127.0.0.1", 90, 1), new MeshEndpoint("http", "127.0.0.1", 91, 2)]);
        var balancer = new MaglevBalancer(new MaglevOptions { TableSize = 17 });
        balancer.Update(set);
        AssertAssignments(balancer, set, [1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 0, 1]);
        Assert.Equal(6, balancer.Table.Count(m => m == 0));
        Assert.Equal(11, balancer.Table.Count(m => m == 1));
    }

    [Fact]
    public void Entries_per_endpoint_max_over_mean_is_at_most_1_02_at_100_endpoints()
    {
        var balancer = new MaglevBalancer();
        balancer.Update(Endpoints.Many(100));
        var counts = new int[100];
        foreach (int member in balancer.Table)
        {
            counts[member]++;
        }

        double mean = MaglevOptions.DefaultTableSize / 100.0;
        Assert.True(counts.Max() / mean <= 1.02, $"max {counts.Max()} over mean {mean} = {counts.Max() / mean:F4}");
        Assert.Equal(MaglevOptions.DefaultTableSize, counts.Sum());
    }

    [Fact]
    public void An_unavailable_endpoint_moves_only_its_own_keys()
    {
        var set = Endpoints.Many(10);
        var balancer = new MaglevBalancer();
        balancer.Update(set);
        var before = RingHashBalancerTests.Assign(balancer, 20_000);
        balancer.Update(set.Without(4));
        var during = RingHashBalancerTests.Assign(balancer, 20_000);
        for (int k = 0; k < before.Length; k++)
        {
            if (ReferenceEquals(before[k], set[4]))
            {
                Assert.NotSame(set[4], during[k]);
            }
            else
            {
                Assert.Same(before[k], during[k]);
            }
        }
    }

    [Fact]
    public void An_excluded_endpoint_passes_the_request_to_another()
    {
        var set = Endpoints.Ports(90, 91, 92, 93, 94, 95);
        var balancer = new MaglevBalancer(new MaglevOptions { TableSize = 7 });
        balancer.Update(set);
        var retry = balancer.Pick(new PickContext(null, 0, [set[2]]));
        Assert.NotNull(retry);
        Assert.NotSame(set[2], retry);
        Assert.Null(balancer.Pick(new PickContext(null, 0, set.Endpoints)));
    }

    [Theory]
    [InlineData(8)]
    [InlineData(65536)]
    [InlineData(1)]
    [InlineData(5000012)]
    public void A_table_size_that_is_not_a_prime_in_range_is_rejected(int size)
    {
        var error = Assert.Throws<ArgumentException>(() => new MaglevBalancer(new MaglevOptions { TableSize = size }));
        Assert.Contains("TableSize", error.Message, StringComparison.Ordinal);
    }
}
