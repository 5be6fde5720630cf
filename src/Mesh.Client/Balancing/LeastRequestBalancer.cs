using Mesh.Client.Discovery;

namespace Mesh.Client.Balancing;

/// <summary>
/// Least request (Envoy's <c>LEAST_REQUEST</c>): each pick compares <see cref="LeastRequestOptions.ChoiceCount"/> random
/// routable endpoints (two by default, distinct) and takes the one with the fewest requests in flight; ties go to the
/// first drawn. With unequal weights the highest <c>weight / (in-flight + 1) ^ bias</c> wins instead. A full-scan mode
/// compares every endpoint.
/// </summary>
/// <remarks>
/// In-flight counts react to a slow endpoint only once its queue grows, so least request keeps sending a stuck replica
/// a share of traffic proportional to how long its requests take; <see cref="PeakEwmaBalancer"/> also weighs latency.
/// A pick takes no lock and allocates nothing.
/// </remarks>
public sealed class LeastRequestBalancer : ILoadBalancer
{
    private readonly Random _random;
    private readonly int _choiceCount;
    private readonly bool _fullScan;
    private readonly double _bias;
    private State _state = State.Empty;

    /// <summary>Creates the policy.</summary>
    /// <param name="options">Choice count, full scan, bias; <see langword="null"/> for the defaults.</param>
    /// <param name="random">A thread-safe random source; <see cref="Random.Shared"/> by default.</param>
    /// <exception cref="ArgumentException">A setting is out of range; the message names it.</exception>
    public LeastRequestBalancer(LeastRequestOptions? options = null, Random? random = null)
    {
        options ??= new LeastRequestOptions();
        PickHelpers.ThrowIfInvalid(nameof(options), options.Validate);
        _choiceCount = options.ChoiceCount;
        _fullScan = options.FullScan;
        _bias = options.ActiveRequestBias;
        _random = random ?? Random.Shared;
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

        Volatile.Write(ref _state, new State(routable, loads, weights, weighted));
    }

    /// <inheritdoc />
    public Endpoint? Pick(in PickContext context)
    {
        var state = Volatile.Read(ref _state);
        var routable = state.Routable;
        if (routable.Length <= 1)
        {
            return routable.Length == 1 && (context.Excluded.IsEmpty || !context.IsExcluded(routable[0])) ? routable[0] : null;
        }

        if (_fullScan)
        {
            return Scan(state, context);
        }

        Endpoint? best = null;
        double bestScore = 0;
        var (first, second) = PickHelpers.TwoDistinct(_random, routable.Length);
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

            double score = Score(state, index);
            if (best is null || score > bestScore)
            {
                best = routable[index];
                bestScore = score;
            }
        }

        return best ?? Scan(state, context);
    }

    /// <summary>The best allowed endpoint of all, scanning from a random start so ties spread.</summary>
    private Endpoint? Scan(State state, in PickContext context)
    {
        var routable = state.Routable;
        int start = _random.Next(routable.Length);
        Endpoint? best = null;
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

            double score = Score(state, index);
            if (best is null || score > bestScore)
            {
                best = routable[index];
                bestScore = score;
            }
        }

        return best;
    }

    /// <summary>Higher is better: minus the in-flight count, or Envoy's weighted score.</summary>
    private double Score(State state, int index)
    {
        int inFlight = state.Loads[index].InFlight;
        if (!state.Weighted)
        {
            return -inFlight;
        }

        double active = inFlight + 1;
        double divisor = _bias == 1.0 ? active : _bias == 0.0 ? 1.0 : Math.Pow(active, _bias);
        return state.Weights[index] / divisor;
    }

    /// <summary>The routable endpoints with their loads and weights in parallel arrays: one pointer hop less per candidate.</summary>
    private sealed class State(Endpoint[] routable, EndpointLoad[] loads, int[] weights, bool weighted)
    {
        public static readonly State Empty = new([], [], [], false);

        public Endpoint[] Routable { get; } = routable;

        public EndpointLoad[] Loads { get; } = loads;

        public int[] Weights { get; } = weights;

        public bool Weighted { get; } = weighted;
    }
}
