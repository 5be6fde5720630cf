using Mesh.Client.Discovery;
using Mesh.Client.Routing;

namespace Mesh.Client.Balancing;

/// <summary>
/// Peak-EWMA with the power of two choices (Finagle, Linkerd, tower): each pick draws two distinct random routable
/// endpoints and takes the one with the lower cost, <c>latency estimate × (requests in flight + 1)</c>; ties go to the
/// first drawn. The default policy.
/// </summary>
/// <remarks>
/// <para>
/// The latency estimate (<see cref="EndpointLoad"/>) is peak-sensitive: a response slower than the estimate replaces
/// it at once, a faster one pulls it down with time constant <see cref="PeakEwmaOptions.Decay"/>. It also decays on
/// read, so an endpoint that stopped getting traffic because it was slow becomes attractive again and is re-measured.
/// Before its first response an endpoint is assumed to take <see cref="PeakEwmaOptions.SeedRtt"/>. Failed attempts
/// (5xx, 429, connect failures, timeouts) record a penalised latency, so a replica that fails fast does not attract
/// traffic.
/// </para>
/// <para>
/// Latency is measured by the mesh from sending the request to receiving the response headers (body transfer is
/// not included), on the service's <see cref="TimeProvider"/>.
/// </para>
/// <para>
/// Two random candidates rather than the global minimum: every client acting on slightly stale numbers would
/// otherwise herd onto the same endpoint; two choices already give an exponential improvement over one (Mitzenmacher).
/// A pick is two random draws and two cost reads: no lock, no allocation.
/// </para>
/// </remarks>
public sealed class PeakEwmaBalancer : ILoadBalancer
{
    private readonly TimeProvider _timeProvider;
    private readonly Random _random;
    private readonly TimeSpan _decay;
    private readonly TimeSpan _seedRtt;
    private readonly double _failurePenaltyFactor;
    private readonly bool _coarseClock;
    private State _state = State.Empty;
    private long _coarseOffsetTicks;
    private long _coarseAnchorMilliseconds;

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
        _timeProvider = timeProvider ?? TimeProvider.System;
        _random = random ?? Random.Shared;
        _coarseClock = ReferenceEquals(_timeProvider, TimeProvider.System);
        if (_coarseClock)
        {
            _coarseAnchorMilliseconds = Environment.TickCount64;
            _coarseOffsetTicks = EndpointLease.MonotonicTicks(_timeProvider, _timeProvider.GetTimestamp())
                - (_coarseAnchorMilliseconds * TimeSpan.TicksPerMillisecond);
        }
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
        for (int i = 0; i < routable.Length; i++)
        {
            loads[i] = routable[i].Load;
        }

        Volatile.Write(ref _state, new State(routable, loads));
    }

    /// <inheritdoc />
    public Endpoint? Pick(in PickContext context)
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

        long now = NowTicks();
        var (i, j) = PickHelpers.TwoDistinct(_random, routable.Length);
        if (!context.Excluded.IsEmpty)
        {
            bool firstAllowed = !context.IsExcluded(routable[i]);
            bool secondAllowed = !context.IsExcluded(routable[j]);
            if (!firstAllowed || !secondAllowed)
            {
                return firstAllowed ? routable[i] : secondAllowed ? routable[j] : Cheapest(routable, now, context);
            }
        }

        // The loads sit in their own array: one pointer hop less per candidate than endpoint -> load.
        var loads = state.Loads;
        return loads[i].GetCost(now) <= loads[j].GetCost(now) ? routable[i] : routable[j];
    }

    /// <summary>
    /// Now, on the clock attempts are timed with, for the decay on read. With the system clock, a coarse millisecond
    /// clock (<see cref="Environment.TickCount64"/>, a few ns to read) is mapped onto the precise one (tens of ns),
    /// re-anchored once a second so the two cannot drift apart: a decay time constant of seconds does not need more.
    /// The offset is one 64-bit field, so a concurrent re-anchor never tears it.
    /// </summary>
    private long NowTicks()
    {
        if (!_coarseClock)
        {
            return EndpointLease.MonotonicTicks(_timeProvider, _timeProvider.GetTimestamp());
        }

        long milliseconds = Environment.TickCount64;
        if (milliseconds - Volatile.Read(ref _coarseAnchorMilliseconds) > 1000)
        {
            long precise = EndpointLease.MonotonicTicks(_timeProvider, _timeProvider.GetTimestamp());
            Volatile.Write(ref _coarseOffsetTicks, precise - (milliseconds * TimeSpan.TicksPerMillisecond));
            Volatile.Write(ref _coarseAnchorMilliseconds, milliseconds);
            return precise;
        }

        return (milliseconds * TimeSpan.TicksPerMillisecond) + Volatile.Read(ref _coarseOffsetTicks);
    }

    /// <summary>Both draws were excluded (a retry among few endpoints): the cheapest allowed one, by a scan.</summary>
    private static Endpoint? Cheapest(Endpoint[] routable, long now, in PickContext context)
    {
        Endpoint? best = null;
        double bestCost = double.PositiveInfinity;
        foreach (var endpoint in routable)
        {
            if (context.IsExcluded(endpoint))
            {
                continue;
            }

            double cost = endpoint.Load.GetCost(now);
            if (best is null || cost < bestCost)
            {
                best = endpoint;
                bestCost = cost;
            }
        }

        return best;
    }

    private sealed class State(Endpoint[] routable, EndpointLoad[] loads)
    {
        public static readonly State Empty = new([], []);

        public Endpoint[] Routable { get; } = routable;

        public EndpointLoad[] Loads { get; } = loads;
    }
}
