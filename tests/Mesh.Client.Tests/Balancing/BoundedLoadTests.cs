using Mesh.Client.Balancing;
using Mesh.Client.Discovery;
using Mesh.Client.Routing;

namespace Mesh.Client.Tests.Balancing;

public sealed class BoundedLoadTests
{
    public static TheoryData<string> HashBalancers => new() { "ring", "maglev" };

    private static ILoadBalancer Create(string kind, double? factor) => kind == "ring"
        ? new RingHashBalancer(new RingHashOptions { BalanceFactor = factor })
        : new MaglevBalancer(new MaglevOptions { BalanceFactor = factor });

    [Theory]
    [MemberData(nameof(HashBalancers))]
    public void No_endpoint_ever_holds_more_than_ceil_factor_times_mean_in_flight(string kind)
    {
        const double factor = 1.25;
        var set = Endpoints.Many(10);
        var balancer = Create(kind, factor);
        balancer.Update(set);
        var leases = new List<EndpointLease>();
        var random = new Random(5);
        for (int i = 1; i <= 2000; i++)
        {
            // A hot key: 80 % of requests carry the same hash.
            ulong hash = random.Next(10) < 8 ? 42UL : (ulong)random.NextInt64();
            var endpoint = balancer.Pick(new PickContext(null, hash))!;
            leases.Add(endpoint.Begin(TimeProvider.System));

            int max = set.Max(e => e.Load.InFlight);
            double mean = (double)i / set.Count;
            Assert.True(max <= Math.Ceiling(factor * mean), $"After {i} requests an endpoint holds {max}; the bound is {Math.Ceiling(factor * mean)}.");

            if (i % 7 == 0)
            {
                leases[random.Next(leases.Count)].Complete(AttemptOutcome.Success);
            }
        }
    }

    [Theory]
    [MemberData(nameof(HashBalancers))]
    public void Without_a_factor_a_hot_key_piles_onto_one_endpoint(string kind)
    {
        var set = Endpoints.Many(10);
        var balancer = Create(kind, null);
        balancer.Update(set);
        for (int i = 0; i < 100; i++)
        {
            _ = balancer.Pick(new PickContext(null, 42UL))!.Begin(TimeProvider.System);
        }

        Assert.Equal(100, set.Max(e => e.Load.InFlight));
    }

    [Theory]
    [MemberData(nameof(HashBalancers))]
    public void A_key_stays_on_its_endpoint_while_that_endpoint_is_below_capacity(string kind)
    {
        var set = Endpoints.Many(10);
        var plain = Create(kind, null);
        var bounded = Create(kind, 1.25);
        plain.Update(set);
        bounded.Update(set);
        for (ulong key = 0; key < 1000; key++)
        {
            Assert.Same(plain.PickFor(key * 7919), bounded.PickFor(key * 7919));
        }
    }

    [Fact]
    public void A_factor_below_one_is_rejected_with_the_value_named()
    {
        var error = Assert.Throws<ArgumentException>(() => new MaglevBalancer(new MaglevOptions { BalanceFactor = 0.9 }));
        Assert.Contains("BalanceFactor' is '0.9'", error.Message, StringComparison.Ordinal);
    }
}
