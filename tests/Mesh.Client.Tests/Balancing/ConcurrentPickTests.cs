using Mesh.Client.Balancing;
using Mesh.Client.Discovery;
using Mesh.Client.Routing;

namespace Mesh.Client.Tests.Balancing;

/// <summary>Many threads picking while <see cref="ILoadBalancer.Update"/> swaps memberships and health underneath them.</summary>
public sealed class ConcurrentPickTests
{
    public static TheoryData<string> Policies => new() { "rr", "random", "peak", "least", "wrr", "ring", "maglev", "ring-bounded", "maglev-bounded" };

    private static ILoadBalancer Create(string policy) => policy switch
    {
        "rr" => new RoundRobinBalancer(),
        "random" => new RandomBalancer(),
        "peak" => new PeakEwmaBalancer(),
        "least" => new LeastRequestBalancer(),
        "wrr" => new WeightedRoundRobinBalancer(),
        "ring" => new RingHashBalancer(),
        "maglev" => new MaglevBalancer(new MaglevOptions { TableSize = 1009 }),
        "ring-bounded" => new RingHashBalancer(new RingHashOptions { BalanceFactor = 1.25 }),
        _ => new MaglevBalancer(new MaglevOptions { TableSize = 1009, BalanceFactor = 1.25 }),
    };

    [Theory]
    [MemberData(nameof(Policies))]
    public void Picks_during_updates_never_fail_never_see_a_torn_snapshot_and_lose_no_in_flight_count(string policy)
    {
        // Two memberships sharing endpoints 0..3; each published whole, or with some members unroutable.
        var pool = Enumerable.Range(0, 12).Select(i => new Endpoint("http", "10.1.0.1", 9000 + i, 1 + (i % 3))).ToArray();
        var a = new EndpointSet(pool[..8]);
        var b = new EndpointSet(pool[..4].Concat(pool[8..]));
        EndpointSet[] snapshots = [a, b, a.Without(0, 5), b.Without(1, 6), a.OnlyRoutable(7), b.Without()];
        var allowed = new HashSet<Endpoint>(pool, ReferenceEqualityComparer.Instance);

        var balancer = Create(policy);
        balancer.Update(a);
        const int threads = 4;
        const int picksPerThread = 20_000;
        var picks = new long[threads];
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        int running = threads;
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            try
            {
                for (int i = 0; i < picksPerThread; i++)
                {
                    var endpoint = balancer.Pick(new PickContext(null, (ulong)i * 0x9E3779B97F4A7C15UL));
                    if (endpoint is null || !allowed.Contains(endpoint))
                    {
                        failures.Enqueue($"pick {i} returned {endpoint?.ToString() ?? "null"}");
                        continue;
                    }

                    var lease = endpoint.Begin(TimeProvider.System);
                    lease.Complete(i % 5 == 0 ? AttemptOutcome.FailureStatus : AttemptOutcome.Success);
                    picks[t]++;
                }
            }
            catch (Exception ex)
            {
                failures.Enqueue(ex.ToString());
            }
            finally
            {
                Interlocked.Decrement(ref running);
            }
        })).ToArray();

        foreach (var worker in workers)
        {
            worker.Start();
        }

        int update = 0;
        while (Volatile.Read(ref running) > 0)
        {
            balancer.Update(snapshots[update++ % snapshots.Length]);
        }

        foreach (var worker in workers)
        {
            Assert.True(worker.Join(TimeSpan.FromMinutes(2)), "A picking thread did not finish.");
        }

        Assert.Empty(failures);
        Assert.True(update > 0);
        Assert.All(pool, e => Assert.Equal(0, e.Load.InFlight));
        Assert.Equal(picks.Sum(), pool.Sum(e => e.Load.Completed));
    }
}
