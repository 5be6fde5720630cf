namespace Mesh.Client;

/// <summary>
/// The health of one endpoint as two independent opinions, as YARP keeps them: <see cref="Passive"/> (from real
/// traffic) and <see cref="Active"/> (from heartbeats), plus the passive side's ejection state. An endpoint is
/// available unless either opinion says unhealthy.
/// </summary>
/// <remarks>
/// <para>
/// Opinions change only off the request path's pick (when an attempt completes, when a probe returns, when a timer
/// fires); the service then publishes a new routable set, so a pick never evaluates health.
/// </para>
/// <para>
/// The passive side moves through three phases: <see cref="EjectionPhase.None"/> (counting outcomes),
/// <see cref="EjectionPhase.Ejected"/> (passive opinion unhealthy until <see cref="EjectedUntilTicks"/>), and
/// <see cref="EjectionPhase.Probing"/> (routable again; the first outcome decides: success re-admits, failure ejects
/// for longer). While probing, one attempt at a time is let through (<see cref="TryBeginAttempt"/>).
/// </para>
/// </remarks>
internal sealed class EndpointHealth
{
    private int _passive;
    private int _active;
    private int _phase;
    private int _probeInFlight;
    private int _timesEjected;
    private long _ejectedUntilTicks;
    private long _readmittedTicks = long.MinValue;
    private int _consecutiveFailures;
    private int _consecutiveProbeFailures;
    private int _consecutiveProbeSuccesses;
    private long _slowStartBeginTicks;
    private SlowStartCurve? _slowStart;

    /// <summary>The opinion formed from real traffic (failure accounting and outlier ejection).</summary>
    public HealthOpinion Passive => (HealthOpinion)Volatile.Read(ref _passive);

    /// <summary>The opinion formed from background heartbeats.</summary>
    public HealthOpinion Active => (HealthOpinion)Volatile.Read(ref _active);

    /// <summary>Whether the endpoint may receive traffic: neither opinion says unhealthy.</summary>
    public bool IsAvailable => Passive != HealthOpinion.Unhealthy && Active != HealthOpinion.Unhealthy;

    /// <summary>Where the endpoint stands in passive ejection.</summary>
    public EjectionPhase Phase => (EjectionPhase)Volatile.Read(ref _phase);

    /// <summary>Whether the endpoint is ejected now (not yet probing).</summary>
    public bool IsEjected => Phase == EjectionPhase.Ejected;

    /// <summary>
    /// How many times in a row the endpoint was ejected; the next ejection lasts one base period longer. Decays by
    /// one for every base ejection period the endpoint then stays admitted.
    /// </summary>
    public int TimesEjected => Volatile.Read(ref _timesEjected);

    /// <summary>While ejected, when the ejection ends, as monotonic <see cref="TimeSpan"/> ticks of the service's clock.</summary>
    public long EjectedUntilTicks => Volatile.Read(ref _ejectedUntilTicks);

    /// <summary>Failed attempts since the last success (passive accounting).</summary>
    public int ConsecutiveFailures => Volatile.Read(ref _consecutiveFailures);

    /// <summary>
    /// The slow-start factor at <paramref name="nowTicks"/> (monotonic <see cref="TimeSpan"/> ticks): 1 outside a
    /// slow-start window, otherwise Envoy's <c>max(min_weight_percent, (t / window)^(1 / aggression))</c>.
    /// </summary>
    public double SlowStartFactor(long nowTicks)
    {
        var curve = Volatile.Read(ref _slowStart);
        return curve is null ? 1.0 : curve.Factor(nowTicks - Volatile.Read(ref _slowStartBeginTicks));
    }

    /// <summary>When the current slow-start window ends (monotonic ticks), or <see langword="null"/> when none is running.</summary>
    public long? SlowStartEndsAtTicks => Volatile.Read(ref _slowStart) is { } curve ? Volatile.Read(ref _slowStartBeginTicks) + curve.WindowTicks : null;

    /// <summary>The length of the last slow-start window (ticks), or 0 when none ever started.</summary>
    internal long SlowStartWindowTicks => Volatile.Read(ref _slowStart)?.WindowTicks ?? 0;

    /// <summary>
    /// Whether an attempt may go to this endpoint now. Always true except while probing after an ejection, when one
    /// attempt at a time is the probe; a caller refused here picks another endpoint. One volatile read in the common case.
    /// </summary>
    public bool TryBeginAttempt() =>
        Volatile.Read(ref _phase) != (int)EjectionPhase.Probing || Interlocked.CompareExchange(ref _probeInFlight, 1, 0) == 0;

    /// <summary>Releases the probe slot taken by <see cref="TryBeginAttempt"/> without a verdict (the attempt was cancelled).</summary>
    internal void ReleaseProbe() => Volatile.Write(ref _probeInFlight, 0);

    /// <summary>Sets the passive opinion; returns whether it changed.</summary>
    internal bool SetPassive(HealthOpinion opinion) => Interlocked.Exchange(ref _passive, (int)opinion) != (int)opinion;

    /// <summary>Sets the active opinion; returns whether it changed.</summary>
    internal bool SetActive(HealthOpinion opinion) => Interlocked.Exchange(ref _active, (int)opinion) != (int)opinion;

    // ---- Passive accounting state, written by OutlierDetector. ----

    internal OutcomeWindow Window { get; } = new();

    internal int IncrementConsecutiveFailures() => Interlocked.Increment(ref _consecutiveFailures);

    internal void ResetConsecutiveFailures()
    {
        // Most completions are successes on a healthy endpoint: read first so they do not all write the shared line.
        if (Volatile.Read(ref _consecutiveFailures) != 0)
        {
            Volatile.Write(ref _consecutiveFailures, 0);
        }
    }

    internal long ReadmittedTicks => Volatile.Read(ref _readmittedTicks);

    internal void MarkEjected(int times, long untilTicks)
    {
        Volatile.Write(ref _timesEjected, times);
        Volatile.Write(ref _ejectedUntilTicks, untilTicks);
        Volatile.Write(ref _consecutiveFailures, 0);
        Window.Reset();
        Volatile.Write(ref _phase, (int)EjectionPhase.Ejected);
        SetPassive(HealthOpinion.Unhealthy);
    }

    internal bool TryStartProbing()
    {
        if (Interlocked.CompareExchange(ref _phase, (int)EjectionPhase.Probing, (int)EjectionPhase.Ejected) != (int)EjectionPhase.Ejected)
        {
            return false;
        }

        Volatile.Write(ref _probeInFlight, 0);
        SetPassive(HealthOpinion.Unknown);
        return true;
    }

    internal bool TryReadmit(long nowTicks)
    {
        if (Interlocked.CompareExchange(ref _phase, (int)EjectionPhase.None, (int)EjectionPhase.Probing) != (int)EjectionPhase.Probing)
        {
            return false;
        }

        Volatile.Write(ref _probeInFlight, 0);
        Volatile.Write(ref _readmittedTicks, nowTicks);
        Volatile.Write(ref _consecutiveFailures, 0);
        Window.Reset();
        SetPassive(HealthOpinion.Healthy);
        return true;
    }

    // ---- Active (heartbeat) accounting, written by HeartbeatProber. ----

    internal int RecordProbeFailure()
    {
        Volatile.Write(ref _consecutiveProbeSuccesses, 0);
        return Interlocked.Increment(ref _consecutiveProbeFailures);
    }

    internal int RecordProbeSuccess()
    {
        Volatile.Write(ref _consecutiveProbeFailures, 0);
        return Interlocked.Increment(ref _consecutiveProbeSuccesses);
    }

    // ---- Slow start. ----

    internal void BeginSlowStart(long nowTicks, SlowStartCurve? curve)
    {
        if (curve is null)
        {
            return;
        }

        Volatile.Write(ref _slowStartBeginTicks, nowTicks);
        Volatile.Write(ref _slowStart, curve);
    }
}

/// <summary>Where an endpoint stands in passive ejection.</summary>
internal enum EjectionPhase
{
    /// <summary>Not ejected: outcomes are counted.</summary>
    None = 0,

    /// <summary>Ejected: the passive opinion is unhealthy until the ejection ends.</summary>
    Ejected = 1,

    /// <summary>The ejection ended; the next outcome (or a successful heartbeat) decides whether the endpoint is re-admitted.</summary>
    Probing = 2,
}
