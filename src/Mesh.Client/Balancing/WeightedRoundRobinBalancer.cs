using Mesh.Client.Discovery;

namespace Mesh.Client.Balancing;

/// <summary>
/// Smooth weighted round robin: over every cycle of <c>sum of weights</c> picks, each routable endpoint is picked
/// exactly <see cref="Endpoint.Weight"/> times, spread evenly through the cycle rather than in bursts (nginx's goal;
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
/// </remarks>
public sealed class WeightedRoundRobinBalancer : ILoadBalancer
{
    /// <summary>The longest cycle kept: 1,048,576 turns (4 MiB).</summary>
    public const int MaxCycleLength = 1 << 20;

    private Schedule _schedule = Schedule.Empty;
    private uint _next;

    /// <inheritdoc />
    public void Update(EndpointSet endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var routable = endpoints.RoutableArray;
        Volatile.Write(ref _schedule, new Schedule(routable, BuildCycle(routable)));
    }

    /// <inheritdoc />
    public Endpoint? Pick(in PickContext context)
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
    internal static int[] BuildCycle(Endpoint[] routable)
    {
        if (routable.Length == 0)
        {
            return [];
        }

        var weights = new long[routable.Length];
        long gcd = 0;
        long total = 0;
        for (int i = 0; i < routable.Length; i++)
        {
            weights[i] = Math.Max(1, routable[i].Weight);
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
        var queue = new PriorityQueue<int, Deadline>(routable.Length);
        var turns = new long[routable.Length];
        for (int i = 0; i < routable.Length; i++)
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

    private sealed class Schedule(Endpoint[] routable, int[] cycle)
    {
        public static readonly Schedule Empty = new([], []);

        public Endpoint[] Routable { get; } = routable;

        public int[] Cycle { get; } = cycle;
    }
}
