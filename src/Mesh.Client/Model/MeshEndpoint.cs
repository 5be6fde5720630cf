namespace Mesh.Client;

/// <summary>
/// One endpoint of a service as one client routes to it: its <see cref="Address"/> and the live state that client has
/// learned about it (requests in flight, latency, health, slow start).
/// </summary>
/// <remarks>
/// <para>
/// A client's service state creates one record per address <see cref="EndpointAddress.Key"/> and keeps it while the
/// resolver keeps publishing that key (Finagle's rule), so an update never resets what was learned; a re-published
/// address with a new weight or labels replaces <see cref="Address"/> in place. Records are never shared between clients.
/// </para>
/// <para>Custom balancers (<c>Mesh.Client.Balancing.ILoadBalancer</c>) read these; only the mesh creates them.</para>
/// </remarks>
public sealed class MeshEndpoint
{
    private EndpointAddress _address;

    internal MeshEndpoint(EndpointAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        _address = address;
    }

    /// <summary>A record for a new address; for code that builds endpoint sets directly (balancer tests, benchmarks, the simulator).</summary>
    internal MeshEndpoint(string scheme, string host, int port, int weight = 1, string? zone = null,
        IReadOnlyDictionary<string, string>? metadata = null, string? hashKey = null, int priority = 0)
        : this(new EndpointAddress(scheme, host, port, weight, zone, metadata, hashKey, priority))
    {
    }

    /// <summary>Where the endpoint is and how its resolver describes it (the latest description).</summary>
    public EndpointAddress Address => Volatile.Read(ref _address);

    /// <summary>This client's attempts to the endpoint that started and have not ended (an attempt ends with its response).</summary>
    public int InFlight => Load.InFlight;

    /// <summary>The identity, <see cref="EndpointAddress.Key"/>.</summary>
    internal string Key => Address.Key;

    internal string Scheme => Address.Scheme;

    internal string Host => Address.Host;

    internal int Port => Address.Port;

    internal string Authority => Address.Authority;

    internal int Weight => Address.Weight;

    internal int Priority => Address.Priority;

    internal string? Zone => Address.Zone;

    internal string HashKey => Address.HashKey;

    /// <summary>Live load: requests in flight and the latency estimate.</summary>
    internal EndpointLoad Load { get; } = new();

    /// <summary>Live health: the passive and active opinions about this endpoint.</summary>
    internal EndpointHealth Health { get; } = new();

    /// <summary>
    /// The request URIs rewritten to this endpoint, by the caller's URI as written (bounded by the request path; see
    /// <c>Resilience/EndpointUri</c>). Valid for the record's life: its key, and so its scheme and authority, never change.
    /// </summary>
    internal RewrittenUris RewrittenUris =>
        Volatile.Read(ref _rewrittenUris) ?? CreateRewrittenUris(); // created on first use: most records of a large service never take one

    /// <summary>The most URIs <see cref="RewrittenUris"/> keeps.</summary>
    internal const int RewrittenUriCapacity = 128;

    private RewrittenUris? _rewrittenUris;

    private RewrittenUris CreateRewrittenUris()
    {
        Interlocked.CompareExchange(ref _rewrittenUris, new RewrittenUris(RewrittenUriCapacity), null);
        return _rewrittenUris!;
    }

    /// <summary>Recent attempts, failures and latencies, for the diagnostics charts; created on the first attempt.</summary>
    internal TrafficRecorder Traffic => Volatile.Read(ref _traffic) ?? CreateTraffic();

    /// <summary><see cref="Traffic"/> if an attempt created it; null before (read by snapshots, which must not create it).</summary>
    internal TrafficRecorder? TrafficIfAny => Volatile.Read(ref _traffic);

    private TrafficRecorder? _traffic;

    private TrafficRecorder CreateTraffic()
    {
        Interlocked.CompareExchange(ref _traffic, new TrafficRecorder(), null);
        return _traffic!;
    }

    /// <summary>
    /// The weight a balancer should use at <paramref name="nowTicks"/> (monotonic <see cref="TimeSpan"/> ticks):
    /// <see cref="Weight"/> scaled by the slow-start ramp while the endpoint is new or freshly re-admitted, otherwise
    /// <see cref="Weight"/> itself. Lock-free, allocation-free: two volatile reads outside a ramp.
    /// </summary>
    internal double EffectiveWeight(long nowTicks) => Weight * Health.SlowStartFactor(nowTicks);

    /// <summary>Starts an attempt against this endpoint: one more request in flight until the lease completes.</summary>
    internal EndpointLease Begin(TimeProvider timeProvider)
    {
        long start = timeProvider.GetTimestamp();
        Load.OnStart(MonotonicClock.Ticks(timeProvider, start));
        return new EndpointLease(this, timeProvider, start);
    }

    /// <summary>Takes a re-published description of the same key (a new weight, priority, zone or labels).</summary>
    internal void Redescribe(EndpointAddress address) => Volatile.Write(ref _address, address);

    /// <inheritdoc />
    public override string ToString() => Key;
}
