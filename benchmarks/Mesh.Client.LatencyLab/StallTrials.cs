using System.Globalization;
using System.Text;
using Mesh.Client.Balancing;

namespace Mesh.Client.LatencyLab;

/// <summary>
/// The real-server stall experiment (11 replicas answering in N(50 ms, 1.7 ms), 200 requests a second open loop for
/// 60 s, replica 0 stuck at 2 s from 20 s to 40 s) repeated over many seeds in virtual time. A handful of runs on real
/// sockets shows what happened, not how often: these trials give, per balancer, how often a run sends at most one
/// request to the stuck replica (the only way p99.99 can stay within 3 × p50 with 12,000 requests) and how soon the
/// replica gets its share back once it recovers.
/// </summary>
internal static class StallTrials
{
    /// <summary>The stuck replica counts as recovered in a second in which it gets at least this part of its fair share.</summary>
    private const double RecoveredShare = 0.5;

    /// <summary>The tail goal: p99.99 at most this many times p50.</summary>
    public const double TailGoalFactor = 3;

    /// <summary>The recovery goal, in seconds after the stall ends.</summary>
    private const int RecoveryGoalSeconds = 10;

    /// <summary>The real-server experiment's world, with <paramref name="seed"/> for the replicas' latencies.</summary>
    public static Scenario ScenarioFor(int seed) => new()
    {
        Endpoints = 11,
        MeanLatency = TimeSpan.FromMilliseconds(50),
        LatencyStdDev = TimeSpan.FromMilliseconds(1.7),
        RequestsPerSecond = 200,
        Duration = TimeSpan.FromSeconds(60),
        StuckEndpoint = 0,
        StuckLatency = TimeSpan.FromSeconds(2),
        StuckFrom = TimeSpan.FromSeconds(20),
        StuckUntil = TimeSpan.FromSeconds(40),
        Seed = seed,
    };

    /// <summary>
    /// The contenders: each gets a fresh balancer per trial, seeded from the trial's seed. Round robin is the reference
    /// that ignores latency altogether.
    /// </summary>
    public static IReadOnlyList<(string Name, Func<int, Func<Simulation, ILoadBalancer>> Balancer)> Contenders { get; } =
    [
        ("PeakEwma", seed => sim => new PeakEwmaBalancer(timeProvider: sim.Clock, random: new Random(seed))),
        ("LeastRequest", seed => sim => new LeastRequestBalancer(random: new Random(seed), timeProvider: sim.Clock)),
        ("RoundRobin", _ => _ => new RoundRobinBalancer()),
    ];

    /// <summary>Runs <paramref name="count"/> trials per contender from seed <paramref name="seedStart"/> on and returns the markdown summary.</summary>
    public static string Run(int count, int seedStart)
    {
        var results = Contenders.ToDictionary(c => c.Name, _ => new List<StallTrial>(count));
        for (int seed = seedStart; seed < seedStart + count; seed++)
        {
            foreach (var (name, balancer) in Contenders)
            {
                var simulation = new Simulation(ScenarioFor(seed));
                simulation.Run(new SingleAttemptStrategy(name, balancer(seed)));
                results[name].Add(Measure(seed, simulation));
            }
        }

        return Summarize(ScenarioFor(seedStart), count, seedStart, results);
    }

    /// <summary>What one run shows: requests the stuck replica got during its stall, the tail against the median, and recovery.</summary>
    public static StallTrial Measure(int seed, Simulation simulation)
    {
        var scenario = simulation.Scenario;
        var toStuck = simulation.AttemptLog
            .Where(a => a.Endpoint == scenario.StuckEndpoint && a.Sent >= scenario.StuckFrom && a.Sent < scenario.StuckUntil)
            .Select(a => a.Sent - scenario.StuckFrom)
            .ToList();

        var sorted = simulation.LatenciesMs.ToArray();
        Array.Sort(sorted);
        return new StallTrial(seed, toStuck.Count, toStuck.Count > 0 ? toStuck[0] : null, toStuck.Count > 1 ? toStuck[1] : null,
            toStuck.Count > 0 ? toStuck[^1] : null, Percentiles.Of(sorted, 50), Percentiles.Of(sorted, 99.99), RecoverySeconds(simulation));
    }

    /// <summary>
    /// The first one-second bin starting at or after the stall's end in which the stuck replica got at least half of
    /// 1/N of the bin's attempts, as seconds after the stall's end (1: the first second); null if none before the run ends.
    /// </summary>
    private static int? RecoverySeconds(Simulation simulation)
    {
        var scenario = simulation.Scenario;
        int bins = (int)Math.Floor((scenario.Duration - scenario.StuckUntil).TotalSeconds);
        var total = new int[bins];
        var toStuck = new int[bins];
        foreach (var (endpoint, sent) in simulation.AttemptLog)
        {
            int bin = (int)Math.Floor((sent - scenario.StuckUntil).TotalSeconds);
            if (bin >= 0 && bin < bins)
            {
                total[bin]++;
                toStuck[bin] += endpoint == scenario.StuckEndpoint ? 1 : 0;
            }
        }

        for (int bin = 0; bin < bins; bin++)
        {
            if (total[bin] > 0 && toStuck[bin] >= RecoveredShare * total[bin] / scenario.Endpoints)
            {
                return bin + 1;
            }
        }

        return null;
    }

    private static string Summarize(Scenario scenario, int count, int seedStart, Dictionary<string, List<StallTrial>> results)
    {
        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture,
            $"## Stall trials: {count} seeds ({seedStart}..{seedStart + count - 1}), one attempt per request");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture,
            $"{scenario.Endpoints} endpoints ~N({scenario.MeanLatency.TotalMilliseconds} ms, {scenario.LatencyStdDev.TotalMilliseconds} ms), {scenario.RequestsPerSecond} req/s for {scenario.Duration.TotalSeconds} s ({scenario.RequestsPerSecond * scenario.Duration.TotalSeconds:N0} requests), endpoint {scenario.StuckEndpoint} stuck at {scenario.StuckLatency.TotalMilliseconds:N0} ms for requests arriving from {scenario.StuckFrom.TotalSeconds} s to {scenario.StuckUntil.TotalSeconds} s. "
            + $"Percentiles by nearest rank (rank = ceil(p/100 × n)): p99.99 of {scenario.RequestsPerSecond * scenario.Duration.TotalSeconds:N0} is the 2nd slowest request. "
            + $"Recovered: the first 1 s bin from {scenario.StuckUntil.TotalSeconds} s on in which endpoint {scenario.StuckEndpoint} gets ≥ {RecoveredShare:0.#} × 1/{scenario.Endpoints} of the bin's requests (1 = the first second).");
        md.AppendLine();
        md.AppendLine("| contender | ≤ 1 request to stuck replica | p99.99 ≤ 3 × p50 | median p50 (ms) | median p99.99 (ms) | recovery p10 / median / p90 (s) | recovered ≤ 10 s | never recovered |");
        md.AppendLine("|---|---:|---:|---:|---:|---|---:|---:|");
        foreach (var (name, trials) in results)
        {
            var recovery = trials.Select(t => (double?)t.RecoverySeconds ?? double.PositiveInfinity).Order().ToArray();
            md.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {Share(trials, t => t.StuckDuringStall <= 1)} | {Share(trials, t => t.MeetsTailGoal)} | {Median(trials, t => t.P50Ms):0.0} | {Median(trials, t => t.P9999Ms):N0} | "
                + $"{Seconds(Percentiles.Of(recovery, 10))} / {Seconds(Percentiles.Of(recovery, 50))} / {Seconds(Percentiles.Of(recovery, 90))} | "
                + $"{Share(trials, t => t.RecoverySeconds <= RecoveryGoalSeconds)} | {Share(trials, t => t.RecoverySeconds is null)} |"));
        }

        foreach (var (name, trials) in results)
        {
            md.AppendLine();
            md.AppendLine(CultureInfo.InvariantCulture, $"### {name}");
            md.AppendLine();
            AppendStuckHistogram(md, trials);
            md.AppendLine();
            AppendRecoveryHistogram(md, trials);
        }

        var peakEwma = results["PeakEwma"];
        md.AppendLine();
        md.AppendLine("### PeakEwma: when the requests to the stuck replica were sent, ms after the stall's onset");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture,
            $"A normal answer takes ~{scenario.MeanLatency.TotalMilliseconds:0} ms; until the first request to the stuck replica is older than that, nothing tells it from a busy one. Requests arrive every {1000.0 / scenario.RequestsPerSecond:0.#} ms.");
        md.AppendLine();
        AppendTimingHistogram(md, peakEwma, scenario.MeanLatency.TotalMilliseconds);
        return md.ToString();
    }

    private static void AppendStuckHistogram(StringBuilder md, List<StallTrial> trials)
    {
        md.AppendLine("| requests to stuck replica during stall | seeds | share |");
        md.AppendLine("|---:|---:|---:|");
        int min = trials.Min(t => t.StuckDuringStall);
        int max = trials.Max(t => t.StuckDuringStall);
        if (max - min <= 15)
        {
            for (int n = min; n <= max; n++)
            {
                AppendRow(md, n.ToString(CultureInfo.InvariantCulture), trials, t => t.StuckDuringStall == n);
            }

            return;
        }

        // Too spread to list one by one: ten ranges of equal width.
        int width = (int)Math.Ceiling((max - min + 1) / 10.0);
        for (int low = min; low <= max; low += width)
        {
            int high = Math.Min(max, low + width - 1);
            AppendRow(md, $"{low}–{high}", trials, t => t.StuckDuringStall >= low && t.StuckDuringStall <= high);
        }
    }

    private static void AppendRecoveryHistogram(StringBuilder md, List<StallTrial> trials)
    {
        md.AppendLine("| recovered within (s after the stall) | seeds | share |");
        md.AppendLine("|---:|---:|---:|");
        foreach (var seconds in trials.Where(t => t.RecoverySeconds is not null).Select(t => t.RecoverySeconds!.Value).Distinct().Order())
        {
            AppendRow(md, seconds.ToString(CultureInfo.InvariantCulture), trials, t => t.RecoverySeconds == seconds);
        }

        if (trials.Any(t => t.RecoverySeconds is null))
        {
            AppendRow(md, "none", trials, t => t.RecoverySeconds is null);
        }
    }

    private static void AppendTimingHistogram(StringBuilder md, List<StallTrial> trials, double normalMs)
    {
        // The gap is the first stuck request's age when the second was sent: what the balancer could have known.
        static TimeSpan? Gap(StallTrial t) => t.SecondAfterOnset - t.FirstAfterOnset;
        md.AppendLine("| ms | 1st request: sent after onset | 2nd request: sent after onset | 2nd − 1st: age of the 1st when the 2nd was sent |");
        md.AppendLine("|---:|---:|---:|---:|");
        double[] edges = [0, 10, 20, 30, 40, 50, 60, 100, 500, 20_000];
        for (int i = 0; i + 1 < edges.Length; i++)
        {
            double low = edges[i];
            double high = edges[i + 1];
            bool In(TimeSpan? at) => at is { } t && t.TotalMilliseconds >= low && t.TotalMilliseconds < high;
            md.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| [{low:0}, {high:0}) | {trials.Count(t => In(t.FirstAfterOnset))} | {trials.Count(t => In(t.SecondAfterOnset))} | {trials.Count(t => In(Gap(t)))} |"));
        }

        md.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"| none | {trials.Count(t => t.FirstAfterOnset is null)} | {trials.Count(t => t.SecondAfterOnset is null)} | {trials.Count(t => Gap(t) is null)} |"));
        var second = trials.Where(t => t.SecondAfterOnset is not null).Select(t => t.SecondAfterOnset!.Value.TotalMilliseconds).Order().ToArray();
        var gaps = trials.Where(t => Gap(t) is not null).Select(t => Gap(t)!.Value.TotalMilliseconds).Order().ToArray();
        if (second.Length > 0)
        {
            md.AppendLine();
            md.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"Over the {second.Length} seeds that sent a 2nd request: sent after onset p10 {Percentiles.Of(second, 10):0} ms, median {Percentiles.Of(second, 50):0} ms, p90 {Percentiles.Of(second, 90):0} ms, max {second[^1]:0} ms; "
                + $"age of the 1st then p10 {Percentiles.Of(gaps, 10):0} ms, median {Percentiles.Of(gaps, 50):0} ms, p90 {Percentiles.Of(gaps, 90):0} ms, max {gaps[^1]:0} ms; "
                + $"the 1st was younger than {normalMs:0} ms in {gaps.Count(ms => ms < normalMs)} of them ({100.0 * gaps.Count(ms => ms < normalMs) / trials.Count:0.#} % of all seeds)."));
        }

        var last = trials.Where(t => t.LastAfterOnset is not null).Max(t => t.LastAfterOnset!.Value.TotalMilliseconds);
        md.AppendLine();
        md.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"The last request to the stuck replica during the stall was sent at most {last:0} ms after onset (the latest over all seeds)."));
    }

    private static void AppendRow(StringBuilder md, string label, List<StallTrial> trials, Func<StallTrial, bool> predicate)
    {
        int seeds = trials.Count(predicate);
        md.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| {label} | {seeds} | {100.0 * seeds / trials.Count:0.0} % |"));
    }

    private static string Share(List<StallTrial> trials, Func<StallTrial, bool> predicate)
    {
        int seeds = trials.Count(predicate);
        return string.Create(CultureInfo.InvariantCulture, $"{seeds}/{trials.Count} ({100.0 * seeds / trials.Count:0.0} %)");
    }

    private static double Median(List<StallTrial> trials, Func<StallTrial, double> value) =>
        Percentiles.Of(trials.Select(value).Order().ToArray(), 50);

    private static string Seconds(double value) =>
        double.IsPositiveInfinity(value) ? "none" : value.ToString("0", CultureInfo.InvariantCulture);
}

/// <summary>What one run of one contender showed.</summary>
/// <param name="Seed">The trial's seed (replica latencies and the balancer's random draws).</param>
/// <param name="StuckDuringStall">Requests sent to the stuck replica while it was stuck.</param>
/// <param name="FirstAfterOnset">When the first of them was sent, after the stall's onset.</param>
/// <param name="SecondAfterOnset">When the second was sent: the one the tail goal cannot afford.</param>
/// <param name="LastAfterOnset">When the last was sent: whether the balancer probed the replica again later in the stall.</param>
/// <param name="P50Ms">Median request latency.</param>
/// <param name="P9999Ms">p99.99 request latency (nearest rank).</param>
/// <param name="RecoverySeconds">Seconds after the stall until the replica got half its fair share back; null if never.</param>
internal sealed record StallTrial(int Seed, int StuckDuringStall, TimeSpan? FirstAfterOnset, TimeSpan? SecondAfterOnset,
    TimeSpan? LastAfterOnset, double P50Ms, double P9999Ms, int? RecoverySeconds)
{
    /// <summary>Whether p99.99 is at most three times p50.</summary>
    public bool MeetsTailGoal => P9999Ms <= StallTrials.TailGoalFactor * P50Ms;
}
