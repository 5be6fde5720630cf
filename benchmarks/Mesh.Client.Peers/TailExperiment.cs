using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Mesh.Client.Peers;

/// <summary>
/// Issue 15's tail experiment on real servers: N Kestrel backends on 127.0.0.1 answering in N(50 ms, 1.7 ms), open-loop
/// load at a fixed rate, backend 0 stuck (2 s answers to what arrives) for the middle third. Each contender gets the
/// same backends in turn, after a warm-up; latency is measured from each request's scheduled send time, attempts are
/// counted at the backends.
/// </summary>
internal static class TailExperiment
{
    public static async Task<int> RunAsync(Settings settings)
    {
        var backends = new LoopbackBackend[settings.Backends];
        for (int i = 0; i < backends.Length; i++)
        {
            backends[i] = await LoopbackBackend.StartAsync(settings.Seed + i, 50, 1.7);
        }

        var urls = backends.Select(b => b.Url).ToArray();
        var contenders = new List<Contender>
        {
            Contender.Mesh("PeakEwma"),
            Contender.Mesh("PeakEwma-averaging-stall-peaks"),
            Contender.Mesh("PeakEwma-before15"),
            Contender.Mesh("LeastRequest"),
            Contender.Mesh("LeastRequest-before15"),
            Contender.ServiceDiscovery(),
            Contender.ServiceDiscovery(hedgingDelay: TimeSpan.FromMilliseconds(settings.HedgingDelayMs)),
        };
        if (settings.Only is { } only)
        {
            // A contender's whole name selects it alone; otherwise every contender whose name contains the text.
            var exact = contenders.Where(c => c.Name.Equals(only, StringComparison.OrdinalIgnoreCase)).ToList();
            contenders = exact.Count > 0 ? exact : contenders.Where(c => c.Name.Contains(only, StringComparison.OrdinalIgnoreCase)).ToList();
        }

        int seconds = settings.DurationSeconds;
        var stallFrom = TimeSpan.FromSeconds(seconds / 3.0);
        var stallUntil = TimeSpan.FromSeconds(seconds * 2 / 3.0);
        var table = new StringBuilder();
        table.AppendLine(CultureInfo.InvariantCulture, $"{backends.Length} Kestrel backends on 127.0.0.1 ~N(50 ms, 1.7 ms), {settings.Rate} req/s open loop for {seconds} s, backend 0 stuck at 2 s from {stallFrom.TotalSeconds:0} s to {stallUntil.TotalSeconds:0} s; latency from the scheduled send time, ms. loadavg at start: {LoadAverage()}");
        table.AppendLine();
        table.AppendLine("| contender | requests | failed | attempts/request | p50 | p90 | p99 | p99.9 | p99.99 | max | p99.99 / p50 | stuck backend: during stall | last third (fair) | back to half fair share after | 10 s after recovery (fair) | loadavg |");
        table.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var contender in contenders)
        {
            await using var provider = contender.Build(urls, null);
            var client = Contender.Client(provider);
            client.Timeout = TimeSpan.FromSeconds(30);

            // Warm-up: connections open, estimates learned, no stall.
            foreach (var b in backends)
            {
                b.Reset(settings.WarmupSeconds);
            }

            await OpenLoopAsync(client, settings.Rate, settings.WarmupSeconds);

            string loadBefore = LoadAverage();
            for (int i = 0; i < backends.Length; i++)
            {
                backends[i].Reset(seconds, i == 0 ? stallFrom : null, i == 0 ? stallUntil : null);
            }

            var (latencies, failed) = await OpenLoopAsync(client, settings.Rate, seconds);
            Array.Sort(latencies);
            long attempts = backends.Sum(b => b.Attempts);
            double P(double p) => latencies[Math.Clamp((int)Math.Ceiling(p / 100 * latencies.Length) - 1, 0, latencies.Length - 1)];

            int from = (int)stallFrom.TotalSeconds, until = (int)Math.Ceiling(stallUntil.TotalSeconds);
            int Sum(LoopbackBackend b, int a, int z) => b.Bins.Skip(a).Take(z - a).Sum();
            int stuckDuring = Sum(backends[0], from, until);
            int stuckLast = Sum(backends[0], until, seconds + 30);
            int allLast = backends.Sum(b => Sum(b, until, seconds + 30));
            string recovered = "not within the run";
            for (int s = until; s < seconds + 30; s++)
            {
                int all = backends.Sum(b => b.Bins[s]);
                if (all > 0 && backends[0].Bins[s] * 2 * backends.Length >= all)
                {
                    recovered = $"{s - until + 1} s";
                    break;
                }
            }

            int stuckAfter10 = Sum(backends[0], until, until + 10);
            int allAfter10 = backends.Sum(b => Sum(b, until, until + 10));
            string line = string.Create(CultureInfo.InvariantCulture,
                $"| {contender.Name} | {latencies.Length:N0} | {failed} | {attempts / (double)latencies.Length:0.000} | {P(50):0.0} | {P(90):0.0} | {P(99):0.0} | {P(99.9):0.0} | {P(99.99):0.0} | {P(100):0.0} | {P(99.99) / P(50):0.0} | {stuckDuring} | {stuckLast} ({allLast / (double)backends.Length:0}) | {recovered} | {stuckAfter10} ({allAfter10 / (double)backends.Length:0}) | {loadBefore} → {LoadAverage()} |");
            table.AppendLine(line);
            Console.WriteLine(line);
            if (settings.Verbose)
            {
                Console.WriteLine("  stuck backend per second: " + string.Join(' ', backends[0].Bins.Take(seconds + 3)));
                Console.WriteLine("  stalled requests arrived, ms after the stall began: "
                    + string.Join(' ', backends[0].StalledArrivals.Take(20).Select(t => t.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture))));
            }
        }

        table.AppendLine();
        table.AppendLine("\"back to half fair share after\": the first one-second bin after the stall ends in which the stuck backend received at least half of 1/N of the attempts (1 s = within the first second).");
        Console.WriteLine();
        Console.WriteLine(table);
        if (settings.Out is { } path)
        {
            await File.WriteAllTextAsync(path, table.ToString());
        }

        foreach (var b in backends)
        {
            await b.DisposeAsync();
        }

        return 0;
    }

    /// <summary>Sends GET /work at <paramref name="rate"/> per second for <paramref name="seconds"/>, each at its scheduled time, without waiting for answers.</summary>
    private static async Task<(double[] Latencies, int Failed)> OpenLoopAsync(HttpClient client, int rate, int seconds)
    {
        int total = rate * seconds;
        var latencies = new double[total];
        var sends = new Task[total];
        int failed = 0;
        var uri = new Uri("/work", UriKind.Relative);
        long origin = Stopwatch.GetTimestamp();
        for (int i = 0; i < total; i++)
        {
            long scheduled = origin + (long)(i * (double)Stopwatch.Frequency / rate);
            while (true)
            {
                long remaining = scheduled - Stopwatch.GetTimestamp();
                if (remaining <= 0)
                {
                    break;
                }

                if (remaining > Stopwatch.Frequency / 500)
                {
                    await Task.Delay(1); // coarse wait; lateness counts in the latency, which is measured from the schedule
                }
                else
                {
                    Thread.Yield();
                }
            }

            sends[i] = SendAsync(i, scheduled);
        }

        await Task.WhenAll(sends);
        return (latencies, failed);

        async Task SendAsync(int index, long scheduled)
        {
            await Task.Yield(); // off the scheduling loop
            try
            {
                using var response = await client.GetAsync(uri);
                if (!response.IsSuccessStatusCode)
                {
                    Interlocked.Increment(ref failed);
                }
            }
            catch (Exception)
            {
                Interlocked.Increment(ref failed);
            }

            latencies[index] = Stopwatch.GetElapsedTime(scheduled).TotalMilliseconds;
        }
    }

    public static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "n/a";
        }
    }
}
