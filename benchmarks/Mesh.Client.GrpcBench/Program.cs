using System.Diagnostics;
using System.Globalization;
using Mesh.Client.Grpc.Testing;
using Mesh.Client.GrpcBench;

// dotnet run -c Release --project benchmarks/Mesh.Client.GrpcBench -- throughput [--seconds 5] [--rounds 3] [--concurrency 32] [--backends 3]
// dotnet run -c Release --project benchmarks/Mesh.Client.GrpcBench -- tail [--seconds 60] [--rate 200]
if (args is ["serve", var n, var delay])
{
    return await Servers.ServeAsync(int.Parse(n, CultureInfo.InvariantCulture), int.Parse(delay, CultureInfo.InvariantCulture));
}

string mode = args.Length > 0 ? args[0] : "throughput";
int Option(string name, int fallback)
{
    int at = Array.IndexOf(args, "--" + name);
    return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
}

Console.WriteLine($"load average before: {File.ReadAllText("/proc/loadavg").Trim()}   cores: {Environment.ProcessorCount}");
int result = mode switch
{
    "throughput" => await Throughput.RunAsync(Option("seconds", 5), Option("rounds", 3), Option("concurrency", 32), Option("backends", 3)),
    "tail" => await Tail.RunAsync(Option("seconds", 60), Option("rate", 200)),
    _ => Usage(),
};
Console.WriteLine($"load average after:  {File.ReadAllText("/proc/loadavg").Trim()}");
return result;

static int Usage()
{
    Console.Error.WriteLine("usage: throughput [--seconds 5] [--rounds 3] [--concurrency 32] [--backends 3] | tail [--seconds 60] [--rate 200]");
    return 2;
}

namespace Mesh.Client.GrpcBench
{
    /// <summary>
    /// Closed-loop unary calls at a fixed concurrency through each contender, interleaved round by round in one process
    /// (the machine is shared and noisy): calls/s and bytes allocated per call in the client process.
    /// </summary>
    internal static class Throughput
    {
        public static async Task<int> RunAsync(int seconds, int rounds, int concurrency, int backends)
        {
            using var servers = ServerProcess.Start(backends, delayMs: 0);
            var (provider, mesh) = Clients.Mesh(servers.Ports, "PeakEwma");
            var (channel, roundRobin) = Clients.RoundRobin(servers.Ports);
            var contenders = new (string Name, Greeter.GreeterClient Client)[] { ("mesh (PeakEwma)", mesh), ("grpc-dotnet round_robin", roundRobin) };
            var results = contenders.ToDictionary(c => c.Name, _ => new List<(double CallsPerSecond, double BytesPerCall)>());
            Console.WriteLine($"unary calls, {backends} backends (one server process), concurrency {concurrency}, {rounds} rounds of {seconds} s each, contenders interleaved");
            foreach (var (name, client) in contenders)
            {
                await RunOnceAsync(client, concurrency, TimeSpan.FromSeconds(3)); // warm up: connections, JIT tiers
            }

            for (int round = 0; round < rounds; round++)
            {
                // Alternate which goes first, so neither always follows the other.
                foreach (var (name, client) in round % 2 == 0 ? contenders : contenders.Reverse())
                {
                    var r = await RunOnceAsync(client, concurrency, TimeSpan.FromSeconds(seconds));
                    results[name].Add(r);
                    Console.WriteLine($"  round {round + 1} {name,-24} {r.CallsPerSecond,10:N0} calls/s {r.BytesPerCall,8:N0} B/call");
                }
            }

            Console.WriteLine();
            Console.WriteLine("| contender | calls/s (median of rounds) | B allocated / call (median) |");
            Console.WriteLine("|---|---:|---:|");
            foreach (var (name, _) in contenders)
            {
                Console.WriteLine($"| {name} | {Median(results[name].Select(r => r.CallsPerSecond)):N0} | {Median(results[name].Select(r => r.BytesPerCall)):N0} |");
            }

            double ratio = Median(results[contenders[0].Name].Select(r => r.CallsPerSecond)) / Median(results[contenders[1].Name].Select(r => r.CallsPerSecond));
            Console.WriteLine($"mesh / round_robin calls/s: {ratio:P1} (goal ≥ 95 %)");
            await provider.DisposeAsync();
            channel.Dispose();
            return 0;
        }

        private static double Median(IEnumerable<double> values)
        {
            var sorted = values.Order().ToArray();
            return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
        }

        private static async Task<(double CallsPerSecond, double BytesPerCall)> RunOnceAsync(Greeter.GreeterClient client, int concurrency, TimeSpan duration)
        {
            var request = new HelloRequest { Name = "bench" };
            long calls = 0;
            GC.Collect();
            long allocated = GC.GetTotalAllocatedBytes(precise: true);
            var clock = Stopwatch.StartNew();
            var workers = Enumerable.Range(0, concurrency).Select(async _ =>
            {
                await Task.Yield();
                while (clock.Elapsed < duration)
                {
                    await client.SayHelloAsync(request);
                    Interlocked.Increment(ref calls);
                }
            }).ToArray();
            await Task.WhenAll(workers);
            double elapsed = clock.Elapsed.TotalSeconds;
            long bytes = GC.GetTotalAllocatedBytes(precise: true) - allocated;
            return (calls / elapsed, (double)bytes / calls);
        }
    }

    /// <summary>
    /// The tail experiment on real servers: per contender 12 backends answering in ~50 ms, one stuck at 2 s for the
    /// middle third, an open loop of unary calls at a fixed rate. Both contenders run at the same time, each on its own
    /// backends, so they share the machine's noise. Latency is measured from each call's scheduled start.
    /// </summary>
    internal static class Tail
    {
        public static async Task<int> RunAsync(int seconds, int rate)
        {
            const int Backends = 12, HealthyMs = 50, StuckMs = 2000;
            using var servers = ServerProcess.Start(2 * Backends, HealthyMs);
            var meshPorts = servers.Ports.Take(Backends).ToList();
            var rrPorts = servers.Ports.Skip(Backends).ToList();
            var (provider, mesh) = Clients.Mesh(meshPorts, "PeakEwma");
            var (channel, roundRobin) = Clients.RoundRobin(rrPorts);
            Console.WriteLine($"{Backends} backends per contender at ~{HealthyMs} ms, one stuck at {StuckMs} ms from {seconds / 3} s to {2 * seconds / 3} s; " +
                $"{rate} calls/s open loop per contender for {seconds} s, both at once");

            // Warm up: connections to every backend, JIT.
            for (int i = 0; i < 2 * Backends; i++)
            {
                await Task.WhenAll(mesh.SayHelloAsync(new HelloRequest()).ResponseAsync, roundRobin.SayHelloAsync(new HelloRequest()).ResponseAsync);
            }

            var duration = TimeSpan.FromSeconds(seconds);
            var stuck = Task.Run(async () =>
            {
                await Task.Delay(duration / 3);
                servers.SetDelay(meshPorts[0], StuckMs);
                servers.SetDelay(rrPorts[0], StuckMs);
                Console.WriteLine($"  {seconds / 3} s: backend 0 of each stuck at {StuckMs} ms");
                await Task.Delay(duration / 3);
                servers.SetDelay(meshPorts[0], HealthyMs);
                servers.SetDelay(rrPorts[0], HealthyMs);
                Console.WriteLine($"  {2 * seconds / 3} s: backend 0 of each healthy again");
            });
            var meshRun = OpenLoopAsync(mesh, rate, duration);
            var rrRun = OpenLoopAsync(roundRobin, rate, duration);
            await Task.WhenAll(meshRun, rrRun, stuck);

            Console.WriteLine();
            Console.WriteLine("| contender | calls | failed | p50 | p90 | p99 | p99.9 | max | calls ≥ 1 s |");
            Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
            Print("mesh PeakEwma", await meshRun);
            Print("grpc-dotnet round_robin", await rrRun);
            var m = await meshRun;
            double p50 = Percentile(m.Latencies, 0.50), p999 = Percentile(m.Latencies, 0.999);
            // The machine's own tail: the same percentiles over the first third, before any backend is stuck.
            Console.WriteLine($"first third only (no stuck backend): mesh p50 {Percentile(m.FirstThird, 0.5):N0} ms, p99.9 {Percentile(m.FirstThird, 0.999):N0} ms; " +
                $"round_robin p50 {Percentile((await rrRun).FirstThird, 0.5):N0} ms, p99.9 {Percentile((await rrRun).FirstThird, 0.999):N0} ms");
            Console.WriteLine($"mesh p99.9 / mesh p50: {p999 / p50:0.00} (goal ≤ 1.5); round_robin p99.9: {Percentile((await rrRun).Latencies, 0.999):N0} ms (goal: ≥ 2,000 ms)");
            await provider.DisposeAsync();
            channel.Dispose();
            return 0;
        }

        private static void Print(string name, (List<double> Latencies, List<double> FirstThird, int Failed) run)
        {
            var l = run.Latencies;
            Console.WriteLine($"| {name} | {l.Count:N0} | {run.Failed} | {Percentile(l, 0.5):N0} | {Percentile(l, 0.9):N0} | {Percentile(l, 0.99):N0} | " +
                $"{Percentile(l, 0.999):N0} | {l.Max():N0} | {l.Count(x => x >= 1000)} |");
        }

        private static double Percentile(List<double> values, double p)
        {
            var sorted = values.Order().ToArray();
            return sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
        }

        private static async Task<(List<double> Latencies, List<double> FirstThird, int Failed)> OpenLoopAsync(Greeter.GreeterClient client, int rate, TimeSpan duration)
        {
            var latencies = new List<double>();
            var firstThird = new List<double>();
            int failed = 0;
            var calls = new List<Task>();
            var request = new HelloRequest { Name = "tail" };
            long start = Stopwatch.GetTimestamp();
            long interval = Stopwatch.Frequency / rate;
            long total = (long)(duration.TotalSeconds * rate);
            for (long i = 0; i < total; i++)
            {
                long scheduled = start + (i * interval);
                bool early = i < total / 3;
                var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), scheduled);
                if (wait > TimeSpan.FromMilliseconds(1))
                {
                    await Task.Delay(wait);
                }

                calls.Add(Task.Run(async () =>
                {
                    try
                    {
                        await client.SayHelloAsync(request);
                        double ms = Stopwatch.GetElapsedTime(scheduled).TotalMilliseconds;
                        lock (latencies)
                        {
                            latencies.Add(ms);
                            if (early)
                            {
                                firstThird.Add(ms);
                            }
                        }
                    }
                    catch (global::Grpc.Core.RpcException)
                    {
                        Interlocked.Increment(ref failed);
                    }
                }));
            }

            await Task.WhenAll(calls);
            return (latencies, firstThird, failed);
        }
    }
}
