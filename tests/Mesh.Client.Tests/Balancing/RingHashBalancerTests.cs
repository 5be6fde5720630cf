using Mesh.Client.Balancing;
using Mesh.Client.Discovery;

namespace Mesh.Client.Tests.Balancing;

/// <summary>Ring hash, checked against Envoy's published ring_hash_lb_test.cc vectors and the proofs.</summary>
public sealed class RingHashBalancerTests
{
    private static RingHashBalancer Balancer(int min, int max = RingHashOptions.MaxRingSizeLimit, double? factor = null) =>
        new(new RingHashOptions { MinimumRingSize = min, MaximumRingSize = max, BalanceFactor = factor });

    // Envoy RingHashLoadBalancerTest.Basic: hosts 127.0.0.1:90..95, minimum ring size 12.
    [Fact]
    public void Builds_envoys_basic_ring_entry_for_entry()
    {
        var set = Endpoints.Ports(90, 91, 92, 93, 94, 95);
        var balancer = Balancer(12);
        balancer.Update(set);

        var expected = new (ulong, int)[]
        {
            (833437586790550860, 94), (928266305478181108, 92), (1033482794131418490, 90), (3551244743356806947, 95),
            (3851675632748031481, 93), (5583722120771150861, 91), (6311230543546372928, 91), (7700377290971790572, 93),
            (13144177310400110813, 95), (13444792449719432967, 92), (15516499411664133160, 94), (16117243373044804889, 90),
        };
        Assert.Equal(expected, balancer.Entries.Select(e => (e.Hash, e.Endpoint.Port)));
    }

    [Fact]
    public void Picks_what_envoy_picks_in_its_basic_test()
    {
        var set = Endpoints.Ports(90, 91, 92, 93, 94, 95);
        var balancer = Balancer(12);
        balancer.Update(set);

        Assert.Same(set[4], balancer.PickFor(0));
        Assert.Same(set[4], balancer.PickFor(ulong.MaxValue)); // past the last entry: wraps to the first
        Assert.Same(set[5], balancer.PickFor(3551244743356806947)); // exactly on an entry
        Assert.Same(set[3], balancer.PickFor(3551244743356806948)); // one past it: the next entry
        Assert.Same(set[0], balancer.PickFor(16117243373044804880));
    }

    // Envoy RingHashLoadBalancerTest.BasicWithHostname / BasicWithMetadataHashKey: hash keys "90".."95".
    [Fact]
    public void Uses_the_endpoint_hash_key_as_envoy_uses_hostname_or_metadata_hash_key()
    {
        var set = new EndpointSet(Enumerable.Range(90, 6).Select(p => new MeshEndpoint("http", "127.0.0.1", p, hashKey: p.ToString(System.Globalization.CultureInfo.InvariantCulture))));
        var balancer = Balancer(12);
        balancer.Update(set);

        var expected = new (ulong, int)[]
        {
            (1975508444536362413, 95), (2376063919839173711, 95), (2386806903309390596, 93), (6749904478991551885, 94),
            (6803900775736438537, 93), (7225015537174310577, 92), (8787465352164086522, 90), (11282020843382717940, 92),
            (13723418369486627818, 91), (13776502110861797421, 90), (14338313586354474791, 91), (15364271037087512980, 94),
        };
        Assert.Equal(expected, balancer.Entries.Select(e => (e.Hash, e.Endpoint.Port)));
        Assert.Same(set[5], balancer.PickFor(0));
        Assert.Same(set[5], balancer.PickFor(ulong.MaxValue));
        Assert.Same(set[2], balancer.PickFor(7225015537174310577));
        Assert.Same(set[3], balancer.PickFor(6803900775736438537));
    }

    // Envoy RingHashLoadBalancerTest.UnevenHosts: 2 hosts, minimum 3 -> 2 entries each, ring of 4.
    [Fact]
    public void Rounds_entries_up_as_envoy_does_for_uneven_hosts()
    {
        var balancer = Balancer(3);
        var set = Endpoints.Ports(80, 81);
        balancer.Update(set);
        Assert.Equal(
            new (ulong, int)[] { (5454692015285649509, 80), (7859399908942313493, 81), (13838424394637650569, 80), (16064866803292627174, 81) },
            balancer.Entries.Select(e => (e.Hash, e.Endpoint.Port)));
        Assert.Same(set[0], balancer.PickFor(0));

        var next = Endpoints.Ports(81, 82);
        balancer.Update(next);
        Assert.Equal(
            new (ulong, int)[] { (7859399908942313493, 81), (8241336090459785962, 82), (12882406409176325258, 82), (16064866803292627174, 81) },
            balancer.Entries.Select(e => (e.Hash, e.Endpoint.Port)));
        Assert.Same(next[0], balancer.PickFor(0));
    }

    // Envoy RingHashLoadBalancerTest.HostWeightedTinyRing: weights 1, 2, 3 on a ring of exactly 6.
    [Fact]
    public void Gives_weighted_hosts_envoys_entries_on_a_tiny_ring()
    {
        var set = new EndpointSet([new MeshEndpoint("http", "127.0.0.1", 90, 1), new MeshEndpoint("http", "127.0.0.1", 91, 2), new MeshEndpoint("http", "127.0.0.1", 92, 3)]);
        var balancer = Balancer(6, 6);
        balancer.Update(set);

        Assert.Equal(6, balancer.RingSize);
        var expected = new Dictionary<ulong, int>
        {
            [928266305478181108] = 2, [4443673547860492590] = 2, [5583722120771150861] = 1,
            [6311230543546372928] = 1, [13444792449719432967] = 2, [16117243373044804889] = 0,
        };
        foreach (var (hash, index) in expected)
        {
            Assert.Same(set[index], balancer.PickFor(hash));
        }
    }

    [Fact]
    public void An_excluded_endpoint_passes_the_request_to_the_next_distinct_endpoint_on_the_ring()
    {
        var set = Endpoints.Ports(90, 91, 92, 93, 94, 95);
        var balancer = Balancer(12);
        balancer.Update(set);

        Assert.Same(set[2], balancer.Pick(new PickContext(null, 0, [set[4]]))); // :94 -> :92, as Envoy's retry does
        Assert.Same(set[0], balancer.Pick(new PickContext(null, 0, [set[4], set[2]])));
        Assert.Null(balancer.Pick(new PickContext(null, 0, set.Endpoints)));
    }

    [Fact]
    public void An_unavailable_endpoint_moves_only_its_own_keys_and_they_come_back_when_it_recovers()
    {
        var set = Endpoints.Many(10);
        var balancer = new RingHashBalancer();
        balancer.Update(set);
        var before = Assign(balancer, 20_000);

        balancer.Update(set.Without(3));
        var during = Assign(balancer, 20_000);
        for (int k = 0; k < before.Length; k++)
        {
            if (!ReferenceEquals(before[k], set[3]))
            {
                Assert.Same(before[k], during[k]);
            }
            else
            {
                Assert.NotSame(set[3], during[k]);
            }
        }

        balancer.Update(set.Without());
        Assert.Equal(before, Assign(balancer, 20_000));
    }

    [Fact]
    public void A_health_change_does_not_rebuild_the_ring()
    {
        var set = Endpoints.Many(5);
        var balancer = new RingHashBalancer();
        balancer.Update(set);
        var entries = balancer.Entries;
        balancer.Update(set.Without(1));
        Assert.Equal(entries.Select(e => e.Hash), balancer.Entries.Select(e => e.Hash));
    }

    // An endpoint leaving the routable set (ejected, unhealthy, draining) keeps the ring: only its keys move, to the next
    // distinct endpoint along the ring (A42). At Envoy's default ring size, for every one of N endpoints, that is at most
    // 1.2/N of the keys.
    [Theory]
    [InlineData(10)]
    [InlineData(20)]
    public void Removing_any_one_of_n_endpoints_remaps_at_most_one_point_two_over_n_of_100000_keys(int n)
    {
        const int keys = 100_000;
        var all = Endpoints.Many(n);
        var balancer = new RingHashBalancer();
        balancer.Update(all);
        var before = Assign(balancer, keys);

        for (int removed = 0; removed < n; removed++)
        {
            balancer.Update(all.Without(removed));
            var after = Assign(balancer, keys);
            int moved = 0;
            for (int k = 0; k < keys; k++)
            {
                if (!ReferenceEquals(before[k], after[k]))
                {
                    moved++;
                    Assert.Same(all[removed], before[k]); // only the removed endpoint's keys move
                }
            }

            Assert.True(moved <= 1.2 * keys / n, $"Removing endpoint {removed} moved {moved} of {keys} keys; the bound is {1.2 * keys / n}.");
            Assert.True(moved > 0, "Removing an endpoint must move its keys.");
        }
    }

    // A membership change rebuilds the ring as Envoy and gRPC do, with ceil(MinimumRingSize / N) entries per endpoint
    // (for equal weights): going from 20 to 19 endpoints gives every remaining endpoint a few more entries, which move
    // some keys between them too. Compatibility requires the same construction; the bound is 2/N rather than 1.2/N.
    [Fact]
    public void Removing_a_member_from_the_membership_remaps_at_most_two_over_n_of_100000_keys()
    {
        const int n = 20;
        const int keys = 100_000;
        var all = Endpoints.Many(n);
        var balancer = new RingHashBalancer();
        balancer.Update(all);
        var before = Assign(balancer, keys);
        for (int removed = 0; removed < n; removed++)
        {
            var smaller = new RingHashBalancer();
            smaller.Update(new EndpointSet(all.Where((_, i) => i != removed)));
            var after = Assign(smaller, keys);
            int moved = Enumerable.Range(0, keys).Count(k => before[k].Key != after[k].Key);
            Assert.True(moved <= 2.0 * keys / n, $"Removing member {removed} moved {moved} of {keys} keys; the bound is {2.0 * keys / n}.");
        }
    }

    [Fact]
    public void A_request_without_a_hash_goes_to_some_routable_endpoint()
    {
        var set = Endpoints.Many(4).OnlyRoutable(2);
        var balancer = new RingHashBalancer();
        balancer.Update(set);
        for (int i = 0; i < 50; i++)
        {
            Assert.Same(set[2], balancer.PickOne());
        }
    }

    [Fact]
    public void An_empty_set_picks_nothing()
    {
        var balancer = new RingHashBalancer();
        Assert.Null(balancer.Pick(new PickContext(null, 1)));
        balancer.Update(EndpointSet.Empty);
        Assert.Null(balancer.Pick(new PickContext(null, 1)));
    }

    [Fact]
    public void Bad_ring_sizes_are_rejected_with_the_setting_named()
    {
        var error = Assert.Throws<ArgumentException>(() => new RingHashBalancer(new RingHashOptions { MinimumRingSize = 20, MaximumRingSize = 10 }));
        Assert.Contains("MaximumRingSize", error.Message, StringComparison.Ordinal);
        Assert.Contains("'10'", error.Message, StringComparison.Ordinal);
    }

    internal static MeshEndpoint[] Assign(ILoadBalancer balancer, int keys)
    {
        var result = new MeshEndpoint[keys];
        for (int k = 0; k < keys; k++)
        {
            result[k] = balancer.PickFor(Utf8XxHash64.Hash($"key-{k}"));
        }

        return result;
    }
}
