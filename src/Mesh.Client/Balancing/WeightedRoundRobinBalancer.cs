using Mesh.Client.Discovery;

namespace Mesh.Client.Balancing;

/// <summary>
/// Smooth weighted round robin: over every cycle of <c>sum of weights</c> picks, each routable endpoint is picked
/// exactly <see cref="MeshEndpoint.Weight"/> times, spread evenly through the cycle rather than in bursts (nginx's goal;
/// gRPC A58's earliest-deadline-first order).
/// </summary>
/// <remarks>
/// <para>
/// The cycle is computed on <see cref="Update(EndpointSet)"/>, off the request path: endpoint <c>i</c>'s <c>k</c>-th turn
/// (from 0) has deadline <c>(k + ½) / weight_i</c>, and turns are taken in deadline order (ties to the endpoint listed
/// first), which is stride scheduling; exactly <c>weight_i</c> of the turns have a deadline below 1, so each cycle is exact,
/// and in any window each endpoint's count stays within about one turn of its share. A pick
/// is one interlocked increment and an array read: no lock, no allocation.
/// </para>
/// <para>
/// Weights are first divided by their greatest common divisor. A cycle longer than <see cref="MaxCycleLength"/> turns is
/// scaled down in proportion (each endpoint keeps at least one turn), which makes proportions approximate only for
/// extreme weight ratios. Resolvers set weights; the default is 1, which makes this plain round robin.
/// </para>
/// <para>
/// Slow start (<see cref="SlowStartOptions"/>): while a member ramps up, the cycle is rebuilt from
/// <see cref="MeshEndpoint.EffectiveWeight(long)"/> every tenth of the ramp's window by a timer on the service's clock (Envoy's
/// round robin re-reads the ramped weight on every pick; a precomputed cycle follows it in ten steps, each weighted at its
/// step's midpoint), and once more, with the full weights, when the last ramp ends. Ramped weights are kept to a
/// resolution of 1 % to 10 % of a weight, so such a cycle stays near <see cref="RampCycleTurns"/> turns and each rebuild
/// is cheap. Picks never see the timer: they read whichever cycle is published.
/// </para>
/// </remarks>
internal sealed class WeightedRoundRobinBalancer : ILoadBalancer, IDisposable
{
    /// <summary>The longest cycle kept: 1,048,576 turns (4 MiB).</summary>
    public const int MaxCycleLength = 1 << 20;

    /// <summary>The length a cycle rebuilt during a slow-start ramp aims at (longer only past 409 weight units in all).</summary>
    public const int RampCycleTurns = 4096;

    private const int RampSteps = 10;

    private readonly Lock _writeLock = new();
    private readonly TimeProvider _timeProvider;
    private MonotonicClock _clock; // not readonly: a mutable struct read in place
    private Schedule _schedule = Schedule.Empty;
    private uint _next;
    private ITimer? _rampTimer;
    private bool _disposed;

    /// <summary>Creates the policy.</summary>
    /// <param name="timeProvider">The clock slow-start ramps are timed with and their rebuilds scheduled on;
    /// <see cref="TimeProvider.System"/> by default. Must be the service's (the mesh passes it).</param>
    public WeightedRoundRobinBalancer(TimeProvider? timeProvider = null)
    {
        _timeProvider = timeProvider ?? TimeProvider.System;
        _clock = new MonotonicClock(_timeProvider);
    }

    /// <inheritdoc />
    public void Update(EndpointSet endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        lock (_writeLock)
        {
            Publish(endpoints.RoutableArray);
        }
    }

    /// <summary>Stops the slow-start rebuild timer, if one runs. Picks keep working on the last cycle.</summary>
    public void Dispose()
    {
        lock (_writeLock)
        {
            _disposed = true;
            _rampTimer?.Dispose();
            _rampTimer = null;
        }
    }

    /// <summary>
    /// Builds and publishes the cycle for <paramref name="routable"/>: from the static weights, or, while a member ramps,
    /// from the weights at the middle of the next step, with the timer armed for the step's end. Under the write lock.
    /// </summary>
    private void Publish(MeshEndpoint[] routable)
    {
        long rampEnds = SlowStartRamp.LatestEnd(routable);
        long now = rampEnds == SlowStartRamp.None ? 0 : _clock.NowTicks();
        if (rampEnds == SlowStartRamp.None || now >= rampEnds || _disposed)
        {
            _rampTimer?.Dispose();
            _rampTimer = null;
            Volatile.Write(ref _schedule, new Schedule(routable, BuildCycle(routable)));
            return;
        }

        long step = Math.Max(TimeSpan.TicksPerMillisecond, ShortestRampWindow(routable, now) / RampSteps);
        long due = Math.Min(step, rampEnds - now);
        Volatile.Write(ref _schedule, new Schedule(routable, BuildRampCycle(routable, now + (due / 2))));
        var delay = TimeSpan.FromTicks(due);
        if (_rampTimer is null)
        {
            _rampTimer = _timeProvider.CreateTimer(static s => ((WeightedRoundRobinBalancer)s!).OnRampStep(), this, delay, Timeout.InfiniteTimeSpan);
        }
        else
        {
            _rampTimer.Change(delay, Timeout.InfiniteTimeSpan);
        }
    }

    private void OnRampStep()
    {
        lock (_writeLock)
        {
            if (!_disposed)
            {
                Publish(Volatile.Read(ref _schedule).Routable);
            }
        }
    }

    /// <summary>The shortest window among the ramps still running at <paramref name="now"/>.</summary>
    private static long ShortestRampWindow(MeshEndpoint[] routable, long now)
    {
        long shortest = long.MaxValue;
        foreach (var endpoint in routable)
        {
            if (endpoint.Health.SlowStartEndsAtTicks is { } end && end > now)
            {
                shortest = Math.Min(shortest, endpoint.Health.SlowStartWindowTicks);
            }
        }

        return shortest;
    }

    /// <summary>
    /// The cycle for the effective weights at <paramref name="atTicks"/>, each weight unit split into 10 to 100 parts so
    /// the cycle stays near <see cref="RampCycleTurns"/> turns; every endpoint keeps at least one turn.
    /// </summary>
    internal static int[] BuildRampCycle(MeshEndpoint[] routable, long atTicks)
    {
        long sum = 0;
        foreach (var endpoint in routable)
        {
            sum += endpoint.Weight;
        }

        double resolution = Math.Clamp(RampCycleTurns / (double)Math.Max(1, sum), 10, 100);
        var weights = new long[routable.Length];
        for (int i = 0; i < routable.Length; i++)
        {
            weights[i] = Math.Max(1, (long)Math.Round(routable[i].EffectiveWeight(atTicks) * resolution));
        }

        return BuildCycle(weights);
    }

    /// <inheritdoc />
    public MeshEndpoint? Pick(in PickContext context)
    {
        var schedule = Volatile.Read(ref _schedule);
        var cycle = schedule.Cycle;
        if (cycle.Length == 0)
        {
            return null;
        }

        uint turn = Interlocked.Increment(ref _next) - 1;
        int index = cycle[(int)(turn % (uint)cycle.Length)];
        return PickHelpers.FirstAllowedFrom(schedule.Routable, index, context);
    }

    /// <summary>The cycle as indexes into <paramref name="routable"/>, in turn order.</summary>
    internal static int[] BuildCycle(MeshEndpoint[] routable)
    {
        var weights = new long[routable.Length];
        for (int i = 0; i < routable.Length; i++)
        {
            weights[i] = Math.Max(1, routable[i].Weight);
        }

        return BuildCycle(weights);
    }

    /// <summary>The cycle for <paramref name="weights"/> (each at least 1; reused as scratch), as indexes, in turn order.</summary>
    private static int[] BuildCycle(long[] weights)
    {
        if (weights.Length == 0)
        {
            return [];
        }

        long gcd = 0;
        long total = 0;
        for (int i = 0; i < weights.Length; i++)
        {
            gcd = Gcd(gcd, weights[i]);
        }

        for (int i = 0; i < weights.Length; i++)
        {
            weights[i] /= gcd;
            total += weights[i];
        }

        if (total > MaxCycleLength)
        {
            long sum = total;
            total = 0;
            for (int i = 0; i < weights.Length; i++)
            {
                weights[i] = Math.Max(1, weights[i] * MaxCycleLength / sum);
                total += weights[i];
            }
        }

        var cycle = new int[total];
        var queue = new PriorityQueue<int, Deadline>(weights.Length);
        var turns = new long[weights.Length];
        for (int i = 0; i < weights.Length; i++)
        {
            queue.Enqueue(i, new Deadline(1, weights[i], i));
        }

        for (int t = 0; t < cycle.Length; t++)
        {
            int i = queue.Dequeue();
            cycle[t] = i;
            turns[i]++;
            queue.Enqueue(i, new Deadline(turns[i] + 1, weights[i], i));
        }

        return cycle;
    }

    private static long Gcd(long a, long b)
    {
        while (b != 0)
        {
            (a, b) = (b, a % b);
        }

        return a;
    }

    /// <summary>
    /// The deadline <c>(Turn − ½) / Weight</c> of an endpoint's <c>Turn</c>-th turn (1-based), compared exactly by
    /// cross-multiplication. Centring each turn in its stride keeps a heavy endpoint's last turn from bunching with the
    /// light endpoints' turns at the end of the cycle.
    /// </summary>
    private readonly record struct Deadline(long Turn, long Weight, int Index) : IComparable<Deadline>
    {
        public int CompareTo(Deadline other)
        {
            int byTime = (((2 * Turn) - 1) * other.Weight).CompareTo(((2 * other.Turn) - 1) * Weight);
            return byTime != 0 ? byTime : Index.CompareTo(other.Index);
        }
    }

    private sealed class Schedule(MeshEndpoint[] routable, int[] cycle)
    {
        public static readonly Schedule Empty = new([], []);

        public MeshEndpoint[] Routable { get; } = routable;

        public int[] Cycle { get; } = cycle;
    }
}
