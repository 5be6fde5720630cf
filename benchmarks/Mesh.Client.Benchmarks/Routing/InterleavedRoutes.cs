using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;

namespace Mesh.Client.Benchmarks.Routing;

/// <summary>
/// Route selection with the index against the plain scan in precedence order, interleaved in one process so a loaded
/// machine's noise hits both alike: the same set-ups as <see cref="RouteSelectionBenchmarks"/>, each round times a batch
/// of selections per contender (order alternated per round). Reports each contender's median and minimum ns per
/// request and the median of index / scan in the same round. Run with <c>--interleaved-routes [rounds]</c>.
/// </summary>
internal static class InterleavedRoutes
{
    public static void Run(int rounds)
    {
        Console.WriteLine("| Kind | Rules | contender | median ns | best round ns | median ratio to the scan (same round) |");
        Console.WriteLine("|---|---:|---|---:|---:|---:|");
        foreach (string kind in new[] { "PathHeader", "Regex" })
        {
            foreach (int rules in new[] { 1, 10, 100 })
            {
                var bench = new RouteSelectionBenchmarks { Rules = rules, Kind = kind };
                bench.Setup();
                int batch = kind == "Regex" && rules == 100 ? 5_000 : 100_000;
                (string Name, Func<RouteSelectionBenchmarks, int, object?> Run)[] contenders =
                [
                    ("SelectRoute (index)", Many(static b => b.SelectRoute())),
                    ("SelectRouteByScan", Many(static b => b.SelectRouteByScan())),
                    ("match only (index)", Many(static b => b.MatchOnly())),
                    ("match only (scan)", Many(static b => b.MatchOnlyByScan())),
                ];
                var ns = contenders.Select(_ => new List<double>()).ToArray();
                for (int round = -3; round < rounds; round++) // three warm-up rounds
                {
                    for (int k = 0; k < contenders.Length; k++)
                    {
                        int c = round % 2 == 0 ? k : contenders.Length - 1 - k;
                        long start = Stopwatch.GetTimestamp();
                        GC.KeepAlive(contenders[c].Run(bench, batch));
                        double elapsedNs = Stopwatch.GetElapsedTime(start).TotalNanoseconds / batch;
                        if (round >= 0)
                        {
                            ns[c].Add(elapsedNs);
                        }
                    }
                }

                for (int c = 0; c < contenders.Length; c++)
                {
                    var ratios = ns[c].Zip(ns[c % 2 == 0 ? c + 1 : c], (a, b) => a / b).ToList();
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"| {kind} | {rules} | {contenders[c].Name} | {Median(ns[c]):0.0} | {ns[c].Min():0.0} | {Median(ratios):0.00} |"));
                }

                bench.Cleanup();
            }
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"loadavg at the end: {File.ReadAllText("/proc/loadavg").Trim()}"));
    }

    private static Func<RouteSelectionBenchmarks, int, object?> Many(Func<RouteSelectionBenchmarks, object?> one) =>
        [MethodImpl(MethodImplOptions.NoInlining)] (bench, count) =>
        {
            object? last = null;
            for (int i = 0; i < count; i++)
            {
                last = one(bench) ?? last;
            }

            return last;
        };

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
