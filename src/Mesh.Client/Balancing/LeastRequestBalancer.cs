using Mesh.Client.Discovery;

namespace Mesh.Client.Balancing;

/// <summary>
/// Least request (Envoy's <c>LEAST_REQUEST</c>): each pick compares <see cref="LeastRequestOptions.ChoiceCount"/> random
/// routable endpoints (two by default, distinct) and takes the one with the fewest requests in flight; ties go to the
/// first drawn. With unequal weights the highest <c>weight / (in-flight + 1) ^ bias</c> wins instead. A full-scan mode
/// compares every endpoint.
/// </summary>
/// <remarks>
/// <para>
/// With slow start (<see cref="SlowStartOptions"/>), a new or re-admitted endpoint's weight is scaled by its ramp
/// (<see cref="MeshEndpoint.EffectiveWeight(long)"/>) and the weighted score is used while any ramp runs, even when the
/// weights are equal (Envoy's least request with <c>slow_start_config</c>). For the ramp, a pick reads the clock only then: the
/// published structure carries a flag that the first pick after the last ramp's end clears. Otherwise the clock is read
/// only when a candidate has attempts in flight (for the stall factor below).
/// </para>
/// <para>
/// In-flight counts alone keep sending a replica that has just got stuck a share of new requests until its queue
/// grows. So each candidate's count is multiplied by its stall factor: how many times a normal answer's latency (the
/// lower of the two candidates' last estimates) its attempts have waited without any answer
/// (<see cref="EndpointLoad.GetStallFactor(long, double)"/>, at least 1).
/// </para>
/// <para>A pick takes no lock and allocates nothing.</para>
/// </remarks>
internal sealed class LeastRequestBalancer : ILoadBalancer
{
    private readonly Random _random;
    private readonly int _choiceCount;
    private readonly bool _fullScan;
    private readonly double _bias;
    private MonotonicClock _clock; // not readonly: a mutable struct read in place
    private State _state = State.Empty;

    /// <summary>Creates the policy.</summary>
    /// <param name="options">Choice count, full scan, bias; <see langword="null"/> for the defaults.</param>
    /// <param name="random">A thread-safe random source; <see cref="Random.Shared"/> by default.</param>
    /// <param name="timeProvider">The clock slow-start ramps are timed with; <see cref="TimeProvider.System"/> by default.
    /// Read only while a ramp runs. Must be the service's (the mesh passes it).</param>
    /// <exception cref="ArgumentException">A setting is out of range; the message names it.</exception>
    public LeastRequestBalancer(LeastRequestOptions? options = null, Random? random = null, TimeProvider? timeProvider = null)
    {
        options ??= new LeastRequestOptions();
        PickHelpers.ThrowIfInvalid(nameof(options), options.Validate);
        _choiceCount = options.ChoiceCount;
        _fullScan = options.FullScan;
        _bias = options.ActiveRequestBias;
        _random = random ?? Random.Shared;
        _clock = new MonotonicClock(timeProvider ?? TimeProvider.System);
    }

    /// <inheritdoc />
    public void Update(EndpointSet endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var routable = endpoints.RoutableArray;
        bool weighted = false;
        var loads = new EndpointLoad[routable.Length];
        var weights = new int[routable.Length];
        for (int i = 0; i < routable.Length; i++)
        {
            loads[i] = routable[i].Load;
            weights[i] = routable[i].Weight;
            weighted |= weights[i] != weights[0];
        }

        long rampEnds = SlowStartRamp.LatestEnd(routable);
        Volatile.Write(ref _state, new State(routable, loads, weights, weighted, rampEnds, rampEnds != SlowStartRamp.None));
    }

    /// <inheritdoc />
    public MeshEndpoint? Pick(in PickContext context)
    {
        var state = Volatile.Read(ref _state);
        var routable = state.Routable;
        if (routable.Length <= 1)
        {
            return routable.Length == 1 && (context.Excluded.IsEmpty || !context.IsExcluded(routable[0])) ? routable[0] : null;
        }

        // Envoy's noHostsAreInSlowStart: a ramp's weights are read only while one may be running.
        long now = state.Ramping ? RampNow(state) : SlowStartRamp.None;
        long clockNow = long.MinValue;
        if (_fullScan)
        {
            return Scan(state, now, ref clockNow, context);
        }

        int best = -1;
        double bestScore = 0;
        var (first, second) = PickHelpers.TwoDistinct(_random, routable.Length);

        // A normal answer's latency, for the stall factor: the lower of the two candidates' last estimates, so a replica
        // whose own estimate a stall already raised (its first slow answers) is still measured against a healthy one.
        var loads = state.Loads;
        double reference = loads[first].InFlight == 0 && loads[second].InFlight == 0
            ? 0
            : Math.Min(loads[first].GetLastEstimateTicks(), loads[second].GetLastEstimateTicks());
        for (int c = 0; c < _choiceCount; c++)
        {
            int index = c switch
            {
                0 => first,
                1 => second,
                _ => _random.Next(routable.Length),
            };
            if (!context.Excluded.IsEmpty && context.IsExcluded(routable[index]))
            {
                continue;
            }

            double score = Score(state, index, now, reference, ref clockNow);
            if (best < 0 || score > bestScore)
            {
                best = index;
                bestScore = score;
            }
        }

        // The winner's endpoint is read once, after the comparison: one array read less per pick than per candidate.
        return best >= 0 ? routable[best] : Scan(state, now, ref clockNow, context);
    }

    /// <summary>
    /// Now, while a ramp may be running; <see cref="SlowStartRamp.None"/> once the last one ended, and then the flag is
    /// cleared so later picks of this structure skip the clock. Clearing is idempotent: time only moves forward.
    /// </summary>
    private long RampNow(State state)
    {
        long now = _clock.NowTicks();
        if (now < state.RampEndsTicks)
        {
            return now;
        }

        state.Ramping = false;
        return SlowStartRamp.None;
    }

    /// <summary>The best allowed endpoint of all, scanning from a random start so ties spread.</summary>
    private MeshEndpoint? Scan(State state, long now, ref long clockNow, in PickContext context)
    {
        var routable = state.Routable;
        int start = _random.Next(routable.Length);
        MeshEndpoint? best = null;
        double bestScore = 0;
        for (int k = 0; k < routable.Length; k++)
        {
            int index = start + k;
            if (index >= routable.Length)
            {
                index -= routable.Length;
            }

            if (!context.Excluded.IsEmpty && context.IsExcluded(routable[index]))
            {
                continue;
            }

            double score = Score(state, index, now, 0, ref clockNow);
            if (best is null || score > bestScore)
            {
                best = routable[index];
                bestScore = score;
            }
        }

        return best;
    }

    /// <summary>
    /// Higher is better: minus the in-flight count, or Envoy's weighted score with unequal weights or while a ramp runs
    /// (<paramref name="rampNow"/> is not <see cref="SlowStartRamp.None"/>). The in-flight count (plus one) is multiplied
    /// by the endpoint's stall factor (<see cref="EndpointLoad.GetStallFactor(long, double)"/>): attempts that have waited
    /// k times <paramref name="reference"/> (the lower of the two candidates' last estimates; with more choices or a full
    /// scan, when it is 0, the endpoint's own) without any answer count k times, so a replica that has just got stuck stops looking
    /// as cheap as its short queue. The clock is read at most once per pick, and only when a candidate has attempts in
    /// flight (<paramref name="clockNow"/> is <see cref="long.MinValue"/> until then).
    /// </summary>
    private double Score(State state, int index, long rampNow, double reference, ref long clockNow)
    {
        var load = state.Loads[index];
        int inFlight = load.InFlight;
        double active = inFlight + 1;
        if (inFlight != 0)
        {
            if (clockNow == long.MinValue)
            {
                clockNow = rampNow != SlowStartRamp.None ? rampNow : _clock.NowTicks();
            }

            active *= load.GetStallFactor(clockNow, reference > 0 ? reference : load.GetLastEstimateTicks());
        }

        bool ramping = rampNow != SlowStartRamp.None;
        if (!state.Weighted && !ramping)
        {
            return -active;
        }

        double divisor = _bias == 1.0 ? active : _bias == 0.0 ? 1.0 : Math.Pow(active, _bias);
        double weight = ramping ? state.Routable[index].EffectiveWeight(rampNow) : state.Weights[index];
        return weight / divisor;
    }

    /// <summary>
    /// The routable endpoints with their loads and weights in parallel arrays (one pointer hop less per candidate), and
    /// until when a member's slow-start ramp may run.
    /// </summary>
    private sealed class State(MeshEndpoint[] routable, EndpointLoad[] loads, int[] weights, bool weighted, long rampEndsTicks, bool ramping)
    {
        public static readonly State Empty = new([], [], [], false, SlowStartRamp.None, false);

        private bool _ramping = ramping;

        public MeshEndpoint[] Routable { get; } = routable;

        public EndpointLoad[] Loads { get; } = loads;

        public int[] Weights { get; } = weights;

        public bool Weighted { get; } = weighted;

        public long RampEndsTicks { get; } = rampEndsTicks;

        /// <summary>Whether a ramp may still be running; cleared by the first pick after <see cref="RampEndsTicks"/>.</summary>
        public bool Ramping
        {
            get => Volatile.Read(ref _ramping);
            set => Volatile.Write(ref _ramping, value);
        }
    }
}
