using Mesh.Client.Balancing;
using Mesh.Client.Discovery;
using Mesh.Client.Routing;
using Mesh.Client.Tests.Infrastructure;

namespace Mesh.Client.Tests.Balancing;

/// <summary>
/// Slow start in the weighted and load-aware balancers, through a real <see cref="ServiceState"/> on a manual clock: four
/// members serve steady traffic, a fifth joins, and its share of the picks is measured in tenths of the 60 s window.
/// </summary>
public sealed class SlowStartBalancingTests
{
    private const int Members = 4;
    private const double FairShare = 1.0 / (Members + 1);
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Slice = Window / 10;

    public static TheoryData<string> LoadAware => new() { "PeakEwma", "LeastRequest" };

    private static ILoadBalancer Create(string kind, TimeProvider time) => kind switch
    {
        "PeakEwma" => new PeakEwmaBalancer(timeProvider: time, random: new Random(5)),
        "LeastRequest" => new LeastRequestBalancer(random: new Random(5), timeProvider: time),
        "WeightedRoundRobin" => new WeightedRoundRobinBalancer(time),
        _ => throw new ArgumentException(kind),
    };

    [Theory]
    [MemberData(nameof(LoadAware))]
    public void A_joining_endpoint_under_load_gets_a_small_share_that_grows_to_its_full_share_over_the_window(string kind)
    {
        using var kit = new HealthTestKit(Members, o => o.SlowStart.Window = Window, balancer: t => Create(kind, t));
        var shares = new Traffic(kit).JoinAndMeasure(new MeshEndpoint("http", "10.0.0.99", 80), slices: 12);

        // Under load both policies spread in proportion to weight, so each tenth's share follows the ramp's factor f
        // (10 % floor, linear): about f / (4 + f), from 2 % to 19 %; then the fair 20 %.
        for (int k = 0; k < 10; k++)
        {
            double factor = Math.Max(0.1, (k + 0.5) / 10);
            double expected = factor / (Members + factor);
            Assert.True(Math.Abs(shares[k] - expected) < 0.012, $"tenth {k}: expected {expected:0.000}; shares {Format(shares)}");
        }

        Assert.InRange(shares[10], FairShare * 0.9, FairShare * 1.1);
        Assert.InRange(shares[11], FairShare * 0.9, FairShare * 1.1);
    }

    [Theory]
    [MemberData(nameof(LoadAware))]
    public void Without_slow_start_a_joining_endpoint_under_load_gets_its_full_share_at_once(string kind)
    {
        using var kit = new HealthTestKit(Members, balancer: t => Create(kind, t));
        var shares = new Traffic(kit).JoinAndMeasure(new MeshEndpoint("http", "10.0.0.99", 80), slices: 2);

        Assert.InRange(shares[0], FairShare * 0.9, FairShare * 1.1);
    }

    [Fact]
    public void Weighted_round_robin_follows_the_ramp_in_ten_steps_and_is_exact_after_it()
    {
        using var kit = new HealthTestKit(Members, o => o.SlowStart.Window = Window, balancer: t => Create("WeightedRoundRobin", t));
        var joiner = new MeshEndpoint("http", "10.0.0.99", 80, weight: 2);
        var shares = new Traffic(kit).JoinAndMeasure(joiner, slices: 10);

        // Each tenth is weighted at its midpoint: factor max(0.1, (k + 0.5) / 10), weight 2 against four of weight 1.
        for (int k = 0; k < 10; k++)
        {
            double factor = Math.Max(0.1, (k + 0.5) / 10);
            double expected = 2 * factor / (Members + (2 * factor));
            Assert.True(Math.Abs(shares[k] - expected) < 0.005, $"tenth {k}: {shares[k]:0.0000}, expected {expected:0.0000}");
        }

        // The last rebuild, at the window's end, restores the exact cycle: 2 turns of 6.
        kit.Time.Advance(TimeSpan.FromSeconds(1));
        var counts = CountPicks(kit.State.Balancer, 600);
        Assert.Equal(200, counts[kit.State.RecordOf(joiner)]);
        Assert.All(kit.Members, m => Assert.Equal(100, counts[m]));
    }

    [Fact]
    public void Without_slow_start_weighted_round_robin_gives_a_joining_endpoint_its_exact_share_at_once()
    {
        using var kit = new HealthTestKit(Members, balancer: t => Create("WeightedRoundRobin", t));
        var joiner = new MeshEndpoint("http", "10.0.0.99", 80, weight: 2);
        kit.State.OnEndpoints([.. kit.Members, joiner]);
        joiner = kit.State.RecordOf(joiner);

        var counts = CountPicks(kit.State.Balancer, 600);
        Assert.Equal(200, counts[joiner]);
        Assert.All(kit.Members, m => Assert.Equal(100, counts[m]));
    }

    [Fact]
    public void A_readmitted_endpoint_ramps_up_again_in_weighted_round_robin()
    {
        using var kit = new HealthTestKit(10, o => o.SlowStart.Window = Window, balancer: t => Create("WeightedRoundRobin", t));
        var victim = kit.Members[0];
        kit.Complete(victim, AttemptOutcome.ConnectFailure, 5);
        Assert.False(kit.IsRoutable(victim));
        kit.Time.Advance(TimeSpan.FromSeconds(31)); // the ejection ends: probing, routable at full weight
        kit.Complete(victim, AttemptOutcome.Success); // the probe succeeds: re-admitted, ramping from 10 %

        var counts = CountPicks(kit.State.Balancer, 9_100);
        Assert.InRange(counts.GetValueOrDefault(victim), 90, 110); // 10 of 910 turns: weight 0.1 against nine of 1
    }

    [Fact]
    public void Least_request_reads_no_clock_when_no_ramp_runs_and_stops_reading_it_when_the_ramp_ends()
    {
        var time = new CountingTimeProvider();
        using var kit = new HealthTestKit(Members, o => o.SlowStart.Window = Window);
        var balancer = new LeastRequestBalancer(random: new Random(1), timeProvider: time);
        balancer.Update(kit.State.Endpoints);
        long before = time.Reads;
        CountPicks(balancer, 1000);
        Assert.Equal(before, time.Reads);

        var joiner = new MeshEndpoint("http", "10.0.0.99", 80);
        kit.State.OnEndpoints([.. kit.Members, joiner]);
        joiner = kit.State.RecordOf(joiner);
        time.Now = MonotonicClock.Ticks(kit.Time, kit.Time.GetTimestamp());
        balancer.Update(kit.State.Endpoints);
        CountPicks(balancer, 10);
        Assert.Equal(before + 10, time.Reads); // ramping: one read per pick

        time.Now += Window.Ticks;
        CountPicks(balancer, 1000);
        Assert.Equal(before + 11, time.Reads); // the first pick past the end clears the flag
    }

    [Fact]
    public void Least_request_with_equal_weights_prefers_the_endpoint_at_full_weight_while_another_ramps()
    {
        using var kit = new HealthTestKit(1, o => o.SlowStart.Window = Window, balancer: t => Create("LeastRequest", t));
        var joiner = new MeshEndpoint("http", "10.0.0.99", 80);
        kit.State.OnEndpoints([.. kit.Members, joiner]);
        joiner = kit.State.RecordOf(joiner);
        kit.Time.Advance(Window / 2);

        // Both idle: the old member scores 1 / 1, the joiner 0.5 / 1 (without the ramp they would tie, equal weights).
        Assert.All(Enumerable.Range(0, 50), _ => Assert.Same(kit.Members[0], kit.State.Balancer.PickOne()));

        // Two in flight on the old member: 1 / 3 < 0.5 / 1.
        _ = kit.Members[0].Begin(kit.Time);
        _ = kit.Members[0].Begin(kit.Time);
        Assert.All(Enumerable.Range(0, 50), _ => Assert.Same(joiner, kit.State.Balancer.PickOne()));
    }

    private static Dictionary<MeshEndpoint, int> CountPicks(ILoadBalancer balancer, int picks)
    {
        var counts = new Dictionary<MeshEndpoint, int>();
        for (int i = 0; i < picks; i++)
        {
            var endpoint = balancer.PickOne();
            counts[endpoint] = counts.GetValueOrDefault(endpoint) + 1;
        }

        return counts;
    }

    private static string Format(double[] shares) => string.Join(", ", shares.Select(s => s.ToString("0.000", System.Globalization.CultureInfo.InvariantCulture)));

    /// <summary>
    /// Open-loop traffic in virtual time: two requests every millisecond, each answered after 30 ms (the seed latency,
    /// so a new endpoint's estimate is neither better nor worse than the others'), about 12 in flight per endpoint.
    /// </summary>
    private sealed class Traffic(HealthTestKit kit)
    {
        private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(1);
        private static readonly TimeSpan Latency = TimeSpan.FromMilliseconds(30);
        private readonly Queue<(long DueTicks, EndpointLease Lease)> _inFlight = new();

        /// <summary>Warms up for 5 s, adds <paramref name="joiner"/>, and returns its share of the picks in each slice.</summary>
        public double[] JoinAndMeasure(MeshEndpoint joiner, int slices)
        {
            Run(TimeSpan.FromSeconds(5), null, out _);
            kit.State.OnEndpoints([.. kit.Members, joiner]);
            joiner = kit.State.RecordOf(joiner);
            var shares = new double[slices];
            for (int s = 0; s < slices; s++)
            {
                int total = Run(Slice, joiner, out int joined);
                shares[s] = (double)joined / total;
            }

            return shares;
        }

        private int Run(TimeSpan duration, MeshEndpoint? joiner, out int joined)
        {
            joined = 0;
            int total = 0;
            for (long t = 0; t < duration.Ticks; t += Step.Ticks)
            {
                kit.Time.Advance(Step);
                long now = kit.Time.GetTimestamp();
                while (_inFlight.Count > 0 && _inFlight.Peek().DueTicks <= now)
                {
                    _inFlight.Dequeue().Lease.Complete(AttemptOutcome.Success, 200);
                }

                for (int r = 0; r < 2; r++)
                {
                    var endpoint = kit.State.Balancer.PickOne();
                    _inFlight.Enqueue((now + (Latency.Ticks * kit.Time.TimestampFrequency / TimeSpan.TicksPerSecond), endpoint.Begin(kit.Time)));
                    total++;
                    joined += ReferenceEquals(endpoint, joiner) ? 1 : 0;
                }
            }

            return total;
        }
    }

    /// <summary>A clock that counts its reads and stands still unless moved.</summary>
    private sealed class CountingTimeProvider : TimeProvider
    {
        public long Reads;
        public long Now;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp()
        {
            Reads++;
            return Now;
        }
    }
}
