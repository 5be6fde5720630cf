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

    /// <remarks>
    /// A torn read would pair one snapshot's structure with another's members. The updater publishes a generation number
    /// after each <see cref="ILoadBalancer.Update"/>; a pick that read generation g before and g' after may only return a
    /// member routable in one of the snapshots published from g to g' + 1, so a pick mixing older or newer snapshots fails.
    /// Pickers never run ahead of the updater by more than a few updates (they wait for it, never sleep), so every policy
    /// is exercised under concurrent updates however the threads are scheduled.
    /// </remarks>
    [Theory]
    [MemberData(nameof(Policies))]
    public void Picks_during_updates_never_fail_never_see_a_torn_snapshot_and_lose_no_in_flight_count(string policy)
    {
        // Two memberships sharing endpoints 0..3; each published whole, or with some members unroutable.
        var pool = Enumerable.Range(0, 12).Select(i => new MeshEndpoint("http", "10.1.0.1", 9000 + i, 1 + (i % 3))).ToArray();
        var a = new EndpointSet(pool[..8]);
        var b = new EndpointSet(pool[..4].Concat(pool[8..]));
        EndpointSet[] snapshots = [a, b, a.Without(0, 5), b.Without(1, 6), a.OnlyRoutable(7), b.Without()];
        var routable = snapshots.Select(s => new HashSet<MeshEndpoint>(s.Routable.ToArray(), ReferenceEqualityComparer.Instance)).ToArray();

        var balancer = Create(policy);
        balancer.Update(snapshots[0]);
        long generation = 0; // snapshots[generation % Length] is published (or being replaced by the next)
        const int threads = 4;
        const int picksPerThread = 20_000;
        const int picksPerUpdate = 200;
        var picks = new long[threads];
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        int running = threads;
        bool updaterStopped = false;

        bool Allowed(MeshEndpoint endpoint, long from, long to)
        {
            for (long g = from; g <= to + 1; g++)
            {
                if (routable[g % snapshots.Length].Contains(endpoint))
                {
                    return true;
                }
            }

            return false;
        }

        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            try
            {
                for (int i = 0; i < picksPerThread; i++)
                {
                    while (Volatile.Read(ref generation) < i / picksPerUpdate && !Volatile.Read(ref updaterStopped))
                    {
                        Thread.Yield(); // wait for the updater: the picks must overlap updates
                    }

                    long before = Volatile.Read(ref generation);
                    var endpoint = balancer.Pick(new PickContext(null, (ulong)i * 0x9E3779B97F4A7C15UL));
                    long after = Volatile.Read(ref generation);
                    if (endpoint is null || !Allowed(endpoint, before, after))
                    {
                        failures.Enqueue($"pick {i} between generations {before} and {after} returned {endpoint?.ToString() ?? "null"}");
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

        try
        {
            while (Volatile.Read(ref running) > 0)
            {
                long next = generation + 1;
                balancer.Update(snapshots[next % snapshots.Length]);
                Volatile.Write(ref generation, next);
            }
        }
        finally
        {
            Volatile.Write(ref updaterStopped, true);
        }

        foreach (var worker in workers)
        {
            Assert.True(worker.Join(TimeSpan.FromMinutes(2)), "A picking thread did not finish.");
        }

        Assert.Empty(failures);
        Assert.True(generation >= picksPerThread / picksPerUpdate, $"only {generation} updates ran during the picks");
        Assert.All(pool, e => Assert.Equal(0, e.Load.InFlight));
        Assert.Equal(picks.Sum(), pool.Sum(e => e.Load.Completed));
    }
}
