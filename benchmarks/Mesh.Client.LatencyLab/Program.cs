using System.Globalization;
using System.Text;
using Mesh.Client;
using Mesh.Client.Balancing;
using Mesh.Client.LatencyLab;

// The latency experiment: why PeakEwma is the default. Replicates Linkerd's "Beyond Round Robin" setup in virtual time
// with the real balancer objects. Deterministic: the same seed gives the same table.
//
//   dotnet run -c Release --project benchmarks/Mesh.Client.LatencyLab -- [--seed 1] [--out benchmarks]
//
// The stall trials: the real-server stall experiment repeated over N seeds, a markdown summary on stdout (no files).
//
//   dotnet run -c Release --project benchmarks/Mesh.Client.LatencyLab -- --stall-trials 500 [--trial-seed-start 1]
int seed = 1;
string outDir = ".";
int stallTrials = 0;
int trialSeedStart = 1;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--seed" when i + 1 < args.Length:
            seed = int.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        case "--out" when i + 1 < args.Length:
            outDir = args[++i];
            break;
        case "--stall-trials" when i + 1 < args.Length:
            stallTrials = int.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        case "--trial-seed-start" when i + 1 < args.Length:
            trialSeedStart = int.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        default:
            Console.Error.WriteLine($"Unknown argument '{args[i]}'. Usage: [--seed N] [--out DIRECTORY] | --stall-trials N [--trial-seed-start S]");
            return 2;
    }
}

if (stallTrials > 0)
{
    Console.Write(StallTrials.Run(stallTrials, trialSeedStart));
    return 0;
}

var scenario = new Scenario { Seed = seed };
Func<Simulation, ILoadBalancer> roundRobin = _ => new RoundRobinBalancer();
Func<Simulation, ILoadBalancer> leastRequest = sim => new LeastRequestBalancer(random: new Random(seed), timeProvider: sim.Clock);
Func<Simulation, ILoadBalancer> peakEwma = sim => new PeakEwmaBalancer(timeProvider: sim.Clock, random: new Random(seed));

// Passive ejection needs a failure to count: a slow replica that answers is not failing until an attempt times out.
// The attempt timeout is 200 ms (6 standard deviations above the 167 ms mean); a timed-out attempt is retried on another
// endpoint (default retry options: 3 attempts, budget 20 % + 10/s) and counts toward the default ejection rule (5 in a row).
var attemptTimeout = TimeSpan.FromMilliseconds(200);
MeshServiceOptions Mesh(bool ejection, bool hedging)
{
    var options = new MeshServiceOptions();
    options.PassiveHealth.Enabled = ejection;
    if (ejection)
    {
        options.Timeouts.Attempt = attemptTimeout;
    }

    // Hedging: a second attempt after the p95 of recent latencies (the fixed 100 ms default until 100 samples).
    options.Hedging.Enabled = hedging;
    options.Hedging.DelayPercentile = hedging ? 95 : null;
    return options;
}

IRequestStrategy[] strategies =
[
    new SingleAttemptStrategy("RoundRobin", roundRobin),
    new SingleAttemptStrategy("LeastRequest", leastRequest),
    new SingleAttemptStrategy("PeakEwma", peakEwma),
    new MeshStrategy("RoundRobin + ejection", Mesh(ejection: true, hedging: false), roundRobin, seed),
    new MeshStrategy("LeastRequest + ejection", Mesh(ejection: true, hedging: false), leastRequest, seed),
    new MeshStrategy("PeakEwma + ejection", Mesh(ejection: true, hedging: false), peakEwma, seed),
    new MeshStrategy("PeakEwma + hedging", Mesh(ejection: false, hedging: true), peakEwma, seed),
    new MeshStrategy("PeakEwma + ejection + hedging", Mesh(ejection: true, hedging: true), peakEwma, seed),
];

var rows = new List<(string Name, double[] Values, int Count, int Failed, double AttemptsPerRequest, string Notes)>();
foreach (var strategy in strategies)
{
    var simulation = new Simulation(scenario);
    simulation.Run(strategy);
    var sorted = simulation.LatenciesMs.ToArray();
    Array.Sort(sorted);
    (strategy as IDisposable)?.Dispose();
    string notes = strategy is MeshStrategy mesh
        ? string.Create(CultureInfo.InvariantCulture, $"{mesh.Ejections} ejections, {mesh.Retries:N0} retries, {mesh.Hedges:N0} hedges{(mesh.HedgesRefused > 0 ? $" ({mesh.HedgesRefused:N0} refused: budget spent)" : "")}")
        : "one attempt per request";
    rows.Add((strategy.Name, Percentiles.Reported.Select(p => Percentiles.Of(sorted, p)).ToArray(), sorted.Length, simulation.Failed,
        (double)simulation.Attempts / sorted.Length, notes));
}

var table = new StringBuilder();
table.AppendLine(CultureInfo.InvariantCulture,
    $"{scenario.Endpoints} endpoints ~N({scenario.MeanLatency.TotalMilliseconds} ms, {scenario.LatencyStdDev.TotalMilliseconds} ms), {scenario.RequestsPerSecond} req/s for {scenario.Duration.TotalSeconds} s, endpoint {scenario.StuckEndpoint} stuck at {scenario.StuckLatency.TotalMilliseconds} ms from {scenario.StuckFrom.TotalSeconds} s to {scenario.StuckUntil.TotalSeconds} s; seed {seed}. Latency in ms.");
table.AppendLine(CultureInfo.InvariantCulture,
    $"\"+ ejection\": passive health on (defaults), attempt timeout {attemptTimeout.TotalMilliseconds:0} ms, retries on other endpoints (defaults). \"+ hedging\": a second attempt after the p95 of recent latencies, first answer wins.");
table.AppendLine();
table.AppendLine("| strategy | requests | failed | attempts/request | " + string.Join(" | ", Percentiles.Reported.Select(Percentiles.Label)) + " | notes |");
table.AppendLine("|---|---:|---:|---:|" + string.Concat(Enumerable.Repeat("---:|", Percentiles.Reported.Length)) + "---|");
foreach (var (name, values, count, failed, attemptsPerRequest, notes) in rows)
{
    table.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {count:N0} | {failed:N0} | {attemptsPerRequest:0.000} | ")
        + string.Join(" | ", values.Select(v => v.ToString("N0", CultureInfo.InvariantCulture))) + " | " + notes + " |");
}

Console.Write(table);
Directory.CreateDirectory(outDir);
string svgPath = Path.Combine(outDir, "latency-experiment.svg");
File.WriteAllText(svgPath, SvgChart.Render(
    $"Latency by percentile, one of {scenario.Endpoints} replicas stuck at {scenario.StuckLatency.TotalSeconds:0} s for {(scenario.StuckUntil - scenario.StuckFrom).TotalSeconds:0} s",
    rows.Select(r => (r.Name, r.Values)).ToList(), Percentiles.Reported));
File.WriteAllText(Path.Combine(outDir, "latency-experiment.md"), table.ToString());
Console.WriteLine();
Console.WriteLine($"Chart: {svgPath}");

double Value(string name, double percentile) => rows.Single(r => r.Name == name).Values[Array.IndexOf(Percentiles.Reported, percentile)];
void Goal(string name, double percentile, double goalMs)
{
    double value = Value(name, percentile);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{name} {Percentiles.Label(percentile)} = {value:N0} ms: {(value <= goalMs ? "within" : "ABOVE")} the {goalMs:N0} ms goal."));
}

Goal("PeakEwma", 99.9, 220);
Goal("PeakEwma + ejection", 99.99, 400);
Goal("PeakEwma + hedging", 99.99, 400);
return 0;
