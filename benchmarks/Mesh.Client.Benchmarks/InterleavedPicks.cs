using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using Mesh.Client.Balancing;
using Mesh.Client.Discovery;

namespace Mesh.Client.Benchmarks;

/// <summary>
/// Issue 15's pick goals measured with the contenders interleaved in one process, so a loaded machine's noise hits them
/// alike: each round times a batch of picks per contender (order rotated per round), and the report gives each
/// contender's median and minimum ns per pick over the rounds and its median ratio to the before-15 copy in the same
/// round. Run with <c>--interleaved-picks [rounds]</c>; BenchmarkDotNet's per-case processes run minutes apart, and at
/// a load average of 10 their figures for the same code differ by 2-3×.
/// </summary>
internal static class InterleavedPicks
{
    public static void Run(int rounds)
    {
        const int picks = 200_000;
        string[] names = ["PeakEwma", "PeakEwma-before15", "LeastRequest", "LeastRequest-before15"];
        foreach (int size in new[] { 1_000, 10_000 })
        {
            var balancers = names.Select(n => Create(n, size)).ToArray();
            var ns = names.Select(_ => new List<double>()).ToArray();
            for (int round = -3; round < rounds; round++) // three warm-up rounds
            {
                for (int k = 0; k < names.Length; k++)
                {
                    int c = (k + Math.Max(0, round)) % names.Length;
                    long start = Stopwatch.GetTimestamp();
                    PickMany(balancers[c], picks);
                    double elapsedNs = Stopwatch.GetElapsedTime(start).TotalNanoseconds / picks;
                    if (round >= 0)
                    {
                        ns[c].Add(elapsedNs);
                    }
                }
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{size} endpoints, {rounds} rounds of {picks:N0} picks, loadavg {File.ReadAllText("/proc/loadavg").Trim()}"));
            for (int c = 0; c < names.Length; c++)
            {
                int baseline = c % 2 == 0 ? c + 1 : c; // the before-15 copy of the same policy
                var ratios = ns[c].Zip(ns[baseline], (a, b) => a / b).ToList();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {names[c]} | {size:N0} | {Median(ns[c]):0.0} | {ns[c].Min():0.0} | {Median(ratios):0.00} |"));
            }
        }
    }

    private static ILoadBalancer Create(string name, int size)
    {
        ILoadBalancer balancer = name switch
        {
            "PeakEwma" => new PeakEwmaBalancer(),
            "PeakEwma-before15" => new Before15.PeakEwmaBalancerBefore15(),
            "LeastRequest" => new LeastRequestBalancer(),
            _ => new Before15.LeastRequestBalancerBefore15(),
        };
        balancer.Update(new EndpointSet(Enumerable.Range(0, size)
            .Select(i => new MeshEndpoint("http", $"10.{i / 65536}.{i / 256 % 256}.{i % 256}", 8080, 1 + (i % 3)))));
        return balancer;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void PickMany(ILoadBalancer balancer, int picks)
    {
        MeshEndpoint? last = null;
        for (int i = 0; i < picks; i++)
        {
            last = balancer.Pick(new PickContext()) ?? last;
        }

        GC.KeepAlive(last);
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
