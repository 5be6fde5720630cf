using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Mesh.Client.Peers;

/// <summary>
/// Issue 15, item 2's harness: the request path's cost against one Kestrel backend on 127.0.0.1 that answers at once.
/// Contenders: the same client with the fixed endpoint URI, MESD (<c>AddServiceDiscovery()</c>), the mesh with PeakEwma
/// and with RoundRobin; closed loop with 1 and 32 callers. Rounds are interleaved (every contender and concurrency once
/// per round, the order rotated each round), so they share the machine's noise; round 0 is a warm-up. Reported: median
/// requests/s, the median of each round's ratio to the fixed-URI client in the same round, and bytes allocated per
/// request (<see cref="GC.GetTotalAllocatedBytes(bool)"/>, the whole process, the in-process server included, so the
/// difference to the fixed-URI client is what the client path adds).
/// </summary>
internal static class RequestPathExperiment
{
    public static async Task<int> RunAsync(Settings settings)
    {
        var backends = new LoopbackBackend[settings.RequestPathBackends];
        for (int i = 0; i < backends.Length; i++)
        {
            backends[i] = await LoopbackBackend.StartAsync(i, 0, 0);
        }

        var urls = backends.Select(b => b.Url).ToArray();
        var contenders = new[]
        {
            Contender.Fixed(),
            Contender.ServiceDiscovery(),
            Contender.Mesh("PeakEwma"),
            Contender.Mesh("RoundRobin"),
            // What two defaults cost, to attribute the mesh's bytes per request:
            Contender.Mesh("PeakEwma", "no attempt timeout", o => o.Timeouts.Attempt = Timeout.InfiniteTimeSpan),
            Contender.Mesh("PeakEwma", "body not read in the attempt", o => o.Retry.MaxBufferedResponseBytes = 0),
        };
        var providers = contenders.Select(c => c.Build(urls, null)).ToArray();
        var clients = providers.Select(Contender.Client).ToArray();
        int[] concurrencies = [1, 32];
        var rps = new List<double>[contenders.Length, concurrencies.Length];
        var ratio = new List<double>[contenders.Length, concurrencies.Length];
        var bytes = new List<double>[contenders.Length, concurrencies.Length];
        for (int c = 0; c < contenders.Length; c++)
        {
            for (int k = 0; k < concurrencies.Length; k++)
            {
                (rps[c, k], ratio[c, k], bytes[c, k]) = ([], [], []);
            }
        }

        string loadStart = TailExperiment.LoadAverage();
        var duration = TimeSpan.FromSeconds(settings.RoundSeconds);
        for (int round = 0; round <= settings.Rounds; round++)
        {
            for (int k = 0; k < concurrencies.Length; k++)
            {
                var roundRps = new double[contenders.Length];
                var roundBytes = new double[contenders.Length];
                for (int n = 0; n < contenders.Length; n++)
                {
                    int c = (n + round) % contenders.Length;
                    (roundRps[c], roundBytes[c]) = await MeasureAsync(clients[c], concurrencies[k], duration);
                }

                if (round == 0)
                {
                    continue; // warm-up
                }

                for (int c = 0; c < contenders.Length; c++)
                {
                    rps[c, k].Add(roundRps[c]);
                    bytes[c, k].Add(roundBytes[c]);
                    ratio[c, k].Add(roundRps[c] / roundRps[0]);
                }
            }

            Console.WriteLine($"round {round} done, loadavg {TailExperiment.LoadAverage()}");
        }

        var table = new StringBuilder();
        table.AppendLine(CultureInfo.InvariantCulture, $"{backends.Length} Kestrel backend(s) on 127.0.0.1 answering at once; {settings.Rounds} interleaved rounds of {settings.RoundSeconds} s per contender and concurrency (plus one warm-up round); loadavg {loadStart} at start, {TailExperiment.LoadAverage()} at the end.");
        table.AppendLine();
        table.AppendLine("| contender | callers | req/s (median) | ratio to fixed URI (median of rounds; min-max) | bytes/request (process) | bytes/request over fixed URI |");
        table.AppendLine("|---|---:|---:|---:|---:|---:|");
        for (int k = 0; k < concurrencies.Length; k++)
        {
            double fixedBytes = Median(bytes[0, k]);
            for (int c = 0; c < contenders.Length; c++)
            {
                table.AppendLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {contenders[c].Name} | {concurrencies[k]} | {Median(rps[c, k]):N0} | {Median(ratio[c, k]):0.00} ({ratio[c, k].Min():0.00}-{ratio[c, k].Max():0.00}) | {Median(bytes[c, k]):0} | {Median(bytes[c, k]) - fixedBytes:+0;-0;0} |"));
            }
        }

        Console.WriteLine();
        Console.WriteLine(table);
        if (settings.Out is { } path)
        {
            await File.WriteAllTextAsync(path, table.ToString());
        }

        if (settings.Allocations)
        {
            // After the timed rounds, so the sampling listener cannot perturb them.
            using var profile = new AllocationProfile();
            foreach (int concurrency in concurrencies)
            {
                var samples = new IReadOnlyDictionary<string, long>[contenders.Length];
                var counts = new long[contenders.Length];
                for (int c = 0; c < contenders.Length; c++)
                {
                    profile.Start();
                    var (measuredRps, _) = await MeasureAsync(clients[c], concurrency, duration);
                    samples[c] = profile.Stop();
                    counts[c] = (long)(measuredRps * duration.TotalSeconds);
                }

                Console.WriteLine($"callers: {concurrency}");
                AllocationProfile.Print(contenders.Select(c => c.Name).ToArray(), samples, counts);
            }
        }

        foreach (var provider in providers)
        {
            await provider.DisposeAsync();
        }

        foreach (var b in backends)
        {
            await b.DisposeAsync();
        }

        return 0;
    }

    private static async Task<(double Rps, double BytesPerRequest)> MeasureAsync(HttpClient client, int concurrency, TimeSpan duration)
    {
        var uri = new Uri("/work", UriKind.Relative);
        long requests = 0;
        long stopAt = 0;
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        long start = Stopwatch.GetTimestamp();
        stopAt = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var workers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            long mine = 0;
            while (Stopwatch.GetTimestamp() < stopAt)
            {
                using var response = await client.GetAsync(uri);
                response.EnsureSuccessStatusCode();
                mine++;
            }

            Interlocked.Add(ref requests, mine);
        })).ToArray();
        await Task.WhenAll(workers);
        double elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        return (requests / elapsed, allocated / (double)Math.Max(1, requests));
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
