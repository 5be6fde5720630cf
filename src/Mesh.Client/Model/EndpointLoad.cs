namespace Mesh.Client;

/// <summary>
/// The live load of one endpoint: requests in flight, how long they have waited without any answer, and a
/// peak-sensitive, exponentially weighted latency estimate (Peak-EWMA, as in Finagle and tower). Updated when an
/// attempt starts and completes; read by balancers.
/// </summary>
/// <remarks>
/// <para>
/// Every member is lock-free. The latency estimate and its time stamp are two fields written without a lock:
/// two attempts completing at the same instant may lose one sample, and a reader may pair a new estimate with
/// the previous stamp. Both effects are bounded by one sample and are the price of a pick that never waits.
/// </para>
/// <para>
/// The stall (<see cref="GetStallTicks(long)"/>): the time since the endpoint last answered anything while attempts
/// waited on it, or since it became busy. One time stamp, written when in-flight goes from 0 to 1 (the attempt's start)
/// and on every completion (its end). It is a lower bound on the age of the oldest attempt in flight: the attempts in
/// flight when the stamp was last moved to a completion started before it, and an attempt that started after it
/// while none were left moved it to its own start. So a stuck replica, which answers nothing, shows a stall that grows
/// from its oldest waiting attempt, before any slow answer comes back, while a replica that keeps answering (one hung
/// long poll among fast requests, say) shows none. A reader that sees a new in-flight count with the previous stamp
/// overstates one endpoint's stall for one pick; that is bounded by the time since its last completion.
/// </para>
/// <para>
/// A stall peak (see <see cref="RecordRtt(TimeSpan, long)"/>): a slow answer to an attempt the stall had already
/// charged for (the endpoint answered nothing else for longer than its estimate while it waited) is recorded as a peak
/// like any other, so the endpoint gets no new attempt until the decay on read makes it worth one; but the first
/// success of an attempt started after that peak replaces it instead of being averaged against it. A stuck replica is
/// a state, not a latency distribution: what its stuck attempts measured says how long it was stuck, and a prompt answer
/// to a later attempt says it no longer is. Averaged, a 2 s peak would take the decay constant times ln(2 s / 50 ms),
/// tens of seconds, to stop pushing traffic away from a replica that already answers in 50 ms.
/// </para>
/// </remarks>
[System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
internal sealed class EndpointLoad
{
    /// <summary>The latency an endpoint is assumed to have before its first response (Linkerd, Finagle: 30 ms).</summary>
    public static readonly TimeSpan DefaultSeedRtt = TimeSpan.FromMilliseconds(30);

    /// <summary>The time constant the estimate decays with toward faster samples (Linkerd, Finagle: 10 s).</summary>
    public static readonly TimeSpan DefaultDecay = TimeSpan.FromSeconds(10);

    // What a pick reads comes first, in declaration order (sequential layout): 40 bytes, one cache line more often than
    // not at 10,000 endpoints, where each candidate's load is a cache miss. What only answers touch follows.
    private int _inFlight;
    private int _awaiting; // attempts in flight that have not had their answer (headers or failure)
    private long _estimateBits = BitConverter.DoubleToInt64Bits(DefaultSeedRtt.Ticks);
    private long _stampTicks = long.MinValue; // no sample yet
    private long _busySinceTicks; // see GetStallTicks
    private double _inverseDecayTicks = 1.0 / DefaultDecay.Ticks;
    private long _completed;
    private long _answerGapTicks; // at the last answer: how long the endpoint had answered nothing before it
    private long _stallPeakTicks = long.MinValue; // when the estimate's peak came from a stalled attempt; MinValue: it did not

    /// <summary>Attempts started and not yet completed.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Attempts completed, whatever their outcome.</summary>
    public long Completed => Volatile.Read(ref _completed);

    /// <summary>The seed latency used until the first sample.</summary>
    public TimeSpan SeedRtt { get; internal set; } = DefaultSeedRtt;

    /// <summary>The decay time constant of the estimate.</summary>
    public TimeSpan Decay
    {
        get;
        internal set
        {
            field = value;
            _inverseDecayTicks = 1.0 / value.Ticks; // a multiplication on the pick path instead of a division
        }
    } = DefaultDecay;

    /// <summary>The factor a failed attempt multiplies the estimate by (see <see cref="RecordFailure(TimeSpan, long)"/>).</summary>
    public double FailurePenaltyFactor { get; internal set; } = DefaultFailurePenaltyFactor;

    /// <summary>The default <see cref="FailurePenaltyFactor"/>: 2, so each failure in a row doubles the estimate.</summary>
    public const double DefaultFailurePenaltyFactor = 2.0;

    /// <summary>The largest estimate a failure penalty can reach: one minute.</summary>
    public static readonly TimeSpan MaxPenalisedRtt = TimeSpan.FromMinutes(1);

    /// <summary>Whether at least one latency sample was recorded.</summary>
    public bool HasSample => Volatile.Read(ref _stampTicks) != long.MinValue;

    /// <summary>An attempt starts at <paramref name="startTicks"/> (monotonic <see cref="TimeSpan"/> ticks).</summary>
    internal void OnStart(long startTicks)
    {
        Interlocked.Increment(ref _inFlight);
        if (Interlocked.Increment(ref _awaiting) == 1)
        {
            Volatile.Write(ref _busySinceTicks, startTicks);
        }
    }

    /// <summary>
    /// An attempt got its answer (its response headers, or its failure) at <paramref name="nowTicks"/>: the endpoint
    /// answered, so its stall (if any) ends here. A body still streaming keeps the attempt in flight, not waiting.
    /// </summary>
    internal void OnAnswered(long nowTicks)
    {
        long busySince = Interlocked.Exchange(ref _busySinceTicks, nowTicks);
        Volatile.Write(ref _answerGapTicks, nowTicks - busySince);
        Interlocked.Decrement(ref _awaiting);
    }

    /// <summary>Whether a success after a stall peak replaces it (see the remarks on the type). On by default; off only to measure the difference.</summary>
    internal bool ReplacesDisprovedStallPeaks { get; set; } = true;

    /// <summary>Whether the estimate's current peak was recorded from an attempt the stall had charged for, and no success has replaced it yet.</summary>
    internal bool HoldsStallPeak => Volatile.Read(ref _stallPeakTicks) != long.MinValue;

    /// <summary>An attempt ended (its body too, if it had one): one fewer in flight.</summary>
    internal void OnEnd()
    {
        Interlocked.Decrement(ref _inFlight);
        Interlocked.Increment(ref _completed);
    }

    /// <summary>
    /// How long, at <paramref name="nowTicks"/>, attempts have waited on this endpoint without it answering anything
    /// (in <see cref="TimeSpan"/> ticks; 0 when none is in flight): a lower bound on the age of its oldest attempt in
    /// flight (see the remarks on the type).
    /// </summary>
    public long GetStallTicks(long nowTicks) =>
        Volatile.Read(ref _awaiting) == 0 ? 0 : Math.Max(0, nowTicks - Volatile.Read(ref _busySinceTicks));

    /// <summary>The last latency estimate as recorded (not decayed; the seed before any sample), in <see cref="TimeSpan"/> ticks.</summary>
    public double GetLastEstimateTicks() => Volatile.Read(ref _stampTicks) == long.MinValue
        ? SeedRttTicks
        : BitConverter.Int64BitsToDouble(Volatile.Read(ref _estimateBits));

    /// <summary>
    /// How many times <paramref name="referenceTicks"/> (a normal answer's latency, for example the lower of two
    /// candidates' last estimates) attempts have waited on this endpoint without an answer, at least 1: what the
    /// least-request balancer multiplies the in-flight count by, so a stuck replica's short queue stops looking cheap
    /// before its first slow answer comes back.
    /// </summary>
    public double GetStallFactor(long nowTicks, double referenceTicks)
    {
        long stall = GetStallTicks(nowTicks);
        return stall > referenceTicks ? stall / Math.Max(referenceTicks, 1) : 1;
    }

    /// <summary>
    /// Records one latency sample taken at <paramref name="nowTicks"/> (a monotonic clock in <see cref="TimeSpan"/>
    /// ticks). A sample slower than the estimate replaces it (peak); a faster one pulls it down with weight
    /// <c>1 - exp(-elapsed / decay)</c>, so the estimate forgets a slow period in about one decay constant. Two
    /// exceptions, for a replica that got stuck (see the remarks on the type): a peak from an attempt the stall had
    /// already charged for is marked as a stall peak, and a faster sample from an attempt that started after such a peak
    /// was recorded replaces it at once.
    /// </summary>
    /// <remarks>Call after <see cref="OnAnswered(long)"/> for the same answer, as <see cref="EndpointLease"/> does: that is where the stall before it is read.</remarks>
    public void RecordRtt(TimeSpan rtt, long nowTicks) => Record(rtt, nowTicks, success: true);

    private void Record(TimeSpan rtt, long nowTicks, bool success)
    {
        double sample = Math.Max(0, rtt.Ticks);
        long stamp = Volatile.Read(ref _stampTicks);
        double estimate = stamp == long.MinValue ? SeedRttTicks : BitConverter.Int64BitsToDouble(Volatile.Read(ref _estimateBits));
        double next;
        if (sample > estimate || stamp == long.MinValue)
        {
            next = sample;

            // The stall bound counted this attempt as stalled when the endpoint answered nothing else for longer than the
            // estimate while it waited; the last answer's gap is this attempt's when nothing else was answered since.
            // An attempt that was already waiting when a stall peak was learnt waited through the same stall, however
            // short the gap since that peak's answer: its slower answer extends the stall peak rather than ending it.
            long stallPeak = Volatile.Read(ref _stallPeakTicks);
            bool stalled = stamp != long.MinValue
                && (Volatile.Read(ref _answerGapTicks) > estimate || (stallPeak != long.MinValue && nowTicks - rtt.Ticks < stallPeak));
            Volatile.Write(ref _stallPeakTicks, stalled ? nowTicks : long.MinValue);
        }
        else
        {
            long stallPeak = Volatile.Read(ref _stallPeakTicks);
            if (success && stallPeak != long.MinValue && nowTicks - rtt.Ticks >= stallPeak && ReplacesDisprovedStallPeaks)
            {
                // Sent after the stall peak was learnt and answered faster: the replica is no longer stuck. A failure
                // or a cancellation does not say so.
                next = sample;
                Volatile.Write(ref _stallPeakTicks, long.MinValue);
            }
            else
            {
                double elapsed = Math.Max(0, nowTicks - stamp);
                double decay = Math.Exp(-elapsed * _inverseDecayTicks);
                next = (estimate * decay) + (sample * (1 - decay));
            }
        }

        Volatile.Write(ref _estimateBits, BitConverter.DoubleToInt64Bits(next));
        Volatile.Write(ref _stampTicks, nowTicks);
    }

    /// <summary>
    /// Records a failed attempt (a 5xx or 429 response, a connect failure, a timeout) as a penalised latency sample:
    /// the slower of the observed latency and the current estimate times <see cref="FailurePenaltyFactor"/> (at most
    /// <see cref="MaxPenalisedRtt"/>). A replica that fails fast would otherwise look like the fastest one and attract
    /// traffic (the "black hole" problem); with the penalty, each failure in a row makes it costlier, and the decay
    /// makes it attractive again once it stops failing.
    /// </summary>
    public void RecordFailure(TimeSpan rtt, long nowTicks)
    {
        double current = GetRttEstimateTicks(nowTicks);
        double penalised = Math.Min(Math.Max(current, SeedRttTicks) * FailurePenaltyFactor, MaxPenalisedRtt.Ticks);
        Record(TimeSpan.FromTicks((long)Math.Max(rtt.Ticks, penalised)), nowTicks, success: false);
    }

    /// <summary>
    /// Records what a cancelled attempt says: the endpoint took at least <paramref name="atLeast"/>. When that is longer
    /// than the current estimate it becomes the new peak; otherwise nothing is recorded (a short cancellation says
    /// nothing about speed). Without this, an endpoint whose attempts are always cancelled before they answer (a stuck
    /// replica that hedges or impatient callers route around) would keep its old, fast estimate and keep attracting
    /// traffic; tower's Peak-EWMA likewise records a dropped request's elapsed time.
    /// </summary>
    public void RecordLowerBound(TimeSpan atLeast, long nowTicks)
    {
        if (atLeast.Ticks > GetRttEstimateTicks(nowTicks))
        {
            Record(atLeast, nowTicks, success: false);
        }
    }

    /// <summary>Applies a balancer's Peak-EWMA settings. Endpoints keep their samples; only the parameters change.</summary>
    internal void Configure(TimeSpan seedRtt, TimeSpan decay, double failurePenaltyFactor)
    {
        SeedRtt = seedRtt;
        Decay = decay;
        FailurePenaltyFactor = failurePenaltyFactor;
    }

    /// <summary>
    /// The latency estimate as seen at <paramref name="nowTicks"/>, in <see cref="TimeSpan"/> ticks: the last estimate
    /// decayed toward zero for the time since it was recorded, so an idle endpoint becomes attractive again.
    /// The seed latency before the first sample.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public double GetRttEstimateTicks(long nowTicks) => GetRttEstimateTicks(nowTicks, SeedRttTicks);

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private double GetRttEstimateTicks(long nowTicks, double unsampled)
    {
        long stamp = Volatile.Read(ref _stampTicks);
        if (stamp == long.MinValue)
        {
            return unsampled;
        }

        double estimate = BitConverter.Int64BitsToDouble(Volatile.Read(ref _estimateBits));
        double elapsed = nowTicks - stamp;
        return elapsed <= 0 ? estimate : estimate * Math.Exp(-elapsed * _inverseDecayTicks);
    }

    /// <summary>
    /// The Peak-EWMA cost at <paramref name="nowTicks"/>: the latency estimate times (requests in flight + 1), so an
    /// endpoint is charged for the queue a new request would join. The estimate is the decayed Peak-EWMA one, or the
    /// stall (<see cref="GetStallTicks(long)"/>) when attempts have waited longer than that without an answer: a replica
    /// that has just got stuck is at least that slow, and it says so before its first slow answer arrives (tower's
    /// Peak-EWMA likewise takes a dropped request's elapsed time as a lower bound).
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public double GetCost(long nowTicks) => GetCost(nowTicks, SeedRttTicks);

    /// <summary>
    /// The Peak-EWMA cost (<see cref="GetCost(long)"/>) of an endpoint that has no sample yet, compared with one that has:
    /// its latency taken as the seed or <paramref name="sampledEstimateTicks"/> (the other's estimate), whichever is
    /// lower. A seed above what the service's endpoints measure would otherwise keep a new endpoint from ever being tried
    /// while they answer faster than it (30 ms against a 1 ms service), however long it waits; with the lower of the two,
    /// it competes on its queue and is measured by its first answers. An endpoint with a sample costs what
    /// <see cref="GetCost(long)"/> says.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public double GetCostAgainst(long nowTicks, double sampledEstimateTicks) => GetCost(nowTicks, Math.Min(SeedRttTicks, sampledEstimateTicks));

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private double GetCost(long nowTicks, double unsampled)
    {
        int inFlight = Volatile.Read(ref _inFlight);
        double estimate = GetRttEstimateTicks(nowTicks, unsampled);
        if (inFlight != 0)
        {
            double stall = nowTicks - Volatile.Read(ref _busySinceTicks);
            estimate = Math.Max(estimate, stall);
        }

        return estimate * (inFlight + 1);
    }

    private double SeedRttTicks => SeedRtt.Ticks;
}
