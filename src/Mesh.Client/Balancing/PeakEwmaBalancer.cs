using Mesh.Client.Discovery;

namespace Mesh.Client.Balancing;

/// <summary>
/// Peak-EWMA with the power of two choices (Finagle, Linkerd, tower): each pick draws two distinct random routable
/// endpoints and takes the one with the lower cost, <c>latency estimate × (requests in flight + 1) / weight</c>; ties go
/// to the first drawn. The default policy.
/// </summary>
/// <remarks>
/// <para>
/// The latency estimate (<see cref="EndpointLoad"/>) is peak-sensitive: a response slower than the estimate replaces
/// it at once, a faster one pulls it down with time constant <see cref="PeakEwmaOptions.Decay"/>. It also decays on
/// read, so an endpoint that stopped getting traffic because it was slow becomes attractive again and is re-measured.
/// Before its first response an endpoint is assumed to take <see cref="PeakEwmaOptions.SeedRtt"/>, or the
/// other candidate's estimate when that is lower, so a new endpoint of a service faster than the seed is tried at once
/// rather than never (<see cref="EndpointLoad.GetCostAgainst(long, double)"/>). Failed attempts
/// (5xx, 429, connect failures, timeouts) record a penalised latency, so a replica that fails fast does not attract
/// traffic.
/// </para>
/// <para>
/// The estimate learns only when an answer arrives, so the attempts still waiting also speak: when an endpoint's
/// attempts have waited longer than its estimate without any answer (the stall, <see cref="EndpointLoad.GetStallTicks(long)"/>,
/// a lower bound on the age of its oldest attempt in flight), the stall is its latency for the cost. A replica that has
/// just got stuck loses picks once its oldest attempt is older than a normal answer, not after its first slow answer
/// returns.
/// </para>
/// <para>
/// Latency is measured by the mesh from sending the request to receiving the response headers (body transfer is
/// not included), on the service's <see cref="TimeProvider"/>.
/// </para>
/// <para>
/// The weight is <see cref="MeshEndpoint.EffectiveWeight(long)"/>: the resolver's weight (as tower's <c>Weighted</c> load
/// divides by it), scaled while a new or re-admitted endpoint ramps up (<see cref="SlowStartOptions"/>). With
/// equal weights and no ramp running, the division is skipped; it changes no comparison.
/// </para>
/// <para>
/// Two random candidates rather than the global minimum: every client acting on slightly stale numbers would
/// otherwise herd onto the same endpoint; two choices already give an exponential improvement over one (Mitzenmacher).
/// A pick is two random draws and two cost reads: no lock, no allocation.
/// </para>
/// </remarks>
internal sealed class PeakEwmaBalancer : ILoadBalancer
{
    private readonly Random _random;
    private readonly TimeSpan _decay;
    private readonly TimeSpan _seedRtt;
    private readonly double _failurePenaltyFactor;
    private MonotonicClock _clock; // not readonly: a mutable struct read in place
    private State _state = State.Empty;

    /// <summary>Creates the policy.</summary>
    /// <param name="options">Decay, seed latency and failure penalty; <see langword="null"/> for the defaults.</param>
    /// <param name="timeProvider">The clock latency is measured with; <see cref="TimeProvider.System"/> by default.
    /// Must be the one attempts are timed with (the mesh passes the service's).</param>
    /// <param name="random">A thread-safe random source for the two draws; <see cref="Random.Shared"/> by default.</param>
    /// <exception cref="ArgumentException">A setting is out of range; the message names it.</exception>
    public PeakEwmaBalancer(PeakEwmaOptions? options = null, TimeProvider? timeProvider = null, Random? random = null)
    {
        options ??= new PeakEwmaOptions();
        PickHelpers.ThrowIfInvalid(nameof(options), options.Validate);
        _decay = options.Decay;
        _seedRtt = options.SeedRtt;
        _failurePenaltyFactor = options.FailurePenaltyFactor;
        _clock = new MonotonicClock(timeProvider ?? TimeProvider.System);
        _random = random ?? Random.Shared;
    }

    /// <inheritdoc />
    public void Update(EndpointSet endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        foreach (var endpoint in endpoints.Endpoints)
        {
            endpoint.Load.Configure(_seedRtt, _decay, _failurePenaltyFactor);
        }

        var routable = endpoints.RoutableArray;
        var loads = new EndpointLoad[routable.Length];
        var weights = new double[routable.Length];
        bool weighted = false;
        for (int i = 0; i < routable.Length; i++)
        {
            loads[i] = routable[i].Load;
            weights[i] = routable[i].Weight;
            weighted |= weights[i] != weights[0];
        }

        Volatile.Write(ref _state, new State(routable, loads, weights, weighted, SlowStartRamp.LatestEnd(routable)));
    }

    /// <inheritdoc />
    public MeshEndpoint? Pick(in PickContext context)
    {
        var state = Volatile.Read(ref _state);
        var routable = state.Routable;
        switch (routable.Length)
        {
            case 0:
                return null;
            case 1:
                return context.Excluded.IsEmpty || !context.IsExcluded(routable[0]) ? routable[0] : null;
        }

        // The clock is read once per pick: for the decay on read, and to know whether a slow-start ramp is running.
        long now = _clock.NowTicks();
        var (i, j) = PickHelpers.TwoDistinct(_random, routable.Length);
        if (!context.Excluded.IsEmpty)
        {
            bool firstAllowed = !context.IsExcluded(routable[i]);
            bool secondAllowed = !context.IsExcluded(routable[j]);
            if (!firstAllowed || !secondAllowed)
            {
                return firstAllowed ? routable[i] : secondAllowed ? routable[j] : Cheapest(state, now, context);
            }
        }

        // The loads sit in their own array: one pointer hop less per candidate than endpoint -> load.
        var loads = state.Loads;
        var a = loads[i];
        var b = loads[j];
        double first, second;
        if (a.HasSample == b.HasSample)
        {
            first = a.GetCost(now);
            second = b.GetCost(now);
        }
        else if (a.HasSample)
        {
            // A new endpoint is assumed no slower than the measured one it is compared with (see GetCostAgainst).
            first = a.GetCost(now);
            second = b.GetCostAgainst(now, a.GetRttEstimateTicks(now));
        }
        else
        {
            first = a.GetCostAgainst(now, b.GetRttEstimateTicks(now));
            second = b.GetCost(now);
        }

        if (now < state.RampEndsTicks)
        {
            // cost_i / w_i <= cost_j / w_j, without dividing.
            first *= routable[j].EffectiveWeight(now);
            second *= routable[i].EffectiveWeight(now);
        }
        else if (state.Weighted)
        {
            var weights = state.Weights;
            first *= weights[j];
            second *= weights[i];
        }

        // Select the index, then load once: a conditional move rather than a branch the costs make unpredictable.
        int chosen = first <= second ? i : j;
        return routable[chosen];
    }

    /// <summary>The weight a cost is divided by: the endpoint's weight, scaled by its slow-start ramp while one may be running.</summary>
    private static double Weight(State state, int index, long now) =>
        now < state.RampEndsTicks ? state.Routable[index].EffectiveWeight(now) : state.Weights[index];

    /// <summary>Both draws were excluded (a retry among few endpoints): the cheapest allowed one, by a scan.</summary>
    private static MeshEndpoint? Cheapest(State state, long now, in PickContext context)
    {
        var routable = state.Routable;
        MeshEndpoint? best = null;
        double bestCost = double.PositiveInfinity;
        for (int i = 0; i < routable.Length; i++)
        {
            if (context.IsExcluded(routable[i]))
            {
                continue;
            }

            double cost = state.Loads[i].GetCost(now) / Weight(state, i, now);
            if (best is null || cost < bestCost)
            {
                best = routable[i];
                bestCost = cost;
            }
        }

        return best;
    }

    /// <summary>
    /// The routable endpoints with their loads and weights in parallel arrays, whether the weights differ, and until when
    /// a member's slow-start ramp may run (<see cref="SlowStartRamp"/>).
    /// </summary>
    private sealed class State(MeshEndpoint[] routable, EndpointLoad[] loads, double[] weights, bool weighted, long rampEndsTicks)
    {
        public static readonly State Empty = new([], [], [], false, SlowStartRamp.None);

        public MeshEndpoint[] Routable { get; } = routable;

        public EndpointLoad[] Loads { get; } = loads;

        public double[] Weights { get; } = weights;

        public bool Weighted { get; } = weighted;

        public long RampEndsTicks { get; } = rampEndsTicks;
    }
}
