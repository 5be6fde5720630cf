using System.Globalization;
using System.Text;
using Mesh.Client.Balancing;
using Mesh.Client.LatencyLab;

// The latency experiment: why PeakEwma is the default. Replicates Linkerd's "Beyond Round Robin" setup in virtual time
// with the real balancer objects. Deterministic: the same seed gives the same table.
//
//   dotnet run -c Release --project benchmarks/Mesh.Client.LatencyLab -- [--seed 1] [--out benchmarks]
int seed = 1;
string outDir = ".";
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
        default:
            Console.Error.WriteLine($"Unknown argument '{args[i]}'. Usage: [--seed N] [--out DIRECTORY]");
            return 2;
    }
}

var scenario = new Scenario { Seed = seed };
IRequestStrategy[] strategies =
[
    new SingleAttemptStrategy("RoundRobin", _ => new RoundRobinBalancer()),
    new SingleAttemptStrategy("LeastRequest", _ => new LeastRequestBalancer(random: new Random(seed))),
    new SingleAttemptStrategy("PeakEwma", sim => new PeakEwmaBalancer(timeProvider: sim.Clock, random: new Random(seed))),
];

var rows = new List<(string Name, double[] Values, int Count)>();
foreach (var strategy in strategies)
{
    var simulation = new Simulation(scenario);
    simulation.Run(strategy);
    var sorted = simulation.LatenciesMs.ToArray();
    Array.Sort(sorted);
    rows.Add((strategy.Name, Percentiles.Reported.Select(p => Percentiles.Of(sorted, p)).ToArray(), sorted.Length));
}

var table = new StringBuilder();
table.AppendLine(CultureInfo.InvariantCulture,
    $"{scenario.Endpoints} endpoints ~N({scenario.MeanLatency.TotalMilliseconds} ms, {scenario.LatencyStdDev.TotalMilliseconds} ms), {scenario.RequestsPerSecond} req/s for {scenario.Duration.TotalSeconds} s, endpoint {scenario.StuckEndpoint} stuck at {scenario.StuckLatency.TotalMilliseconds} ms from {scenario.StuckFrom.TotalSeconds} s to {scenario.StuckUntil.TotalSeconds} s; seed {seed}. Latency in ms.");
table.AppendLine();
table.AppendLine("| balancer | requests | " + string.Join(" | ", Percentiles.Reported.Select(Percentiles.Label)) + " |");
table.AppendLine("|---|---:|" + string.Concat(Enumerable.Repeat("---:|", Percentiles.Reported.Length)));
foreach (var (name, values, count) in rows)
{
    table.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {count:N0} | ")
        + string.Join(" | ", values.Select(v => v.ToString("N0", CultureInfo.InvariantCulture))) + " |");
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

double peakEwma999 = rows.Single(r => r.Name == "PeakEwma").Values[Array.IndexOf(Percentiles.Reported, 99.9)];
Console.WriteLine(peakEwma999 <= 220
    ? $"PeakEwma p99.9 = {peakEwma999:N0} ms: within the 220 ms goal."
    : $"PeakEwma p99.9 = {peakEwma999:N0} ms: ABOVE the 220 ms goal.");
return 0;
