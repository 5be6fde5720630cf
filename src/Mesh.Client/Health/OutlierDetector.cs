using System.Collections.Concurrent;
using Mesh.Client.Discovery;
using Mesh.Client.Routing;

namespace Mesh.Client.Health;

/// <summary>
/// Passive failure accounting for one service (Envoy's outlier detection, Finagle's failure accrual): counts the
/// outcome of every attempt when it completes and ejects an endpoint after <see cref="PassiveHealthOptions.ConsecutiveFailures"/>
/// failures in a row, or when its success rate over <see cref="PassiveHealthOptions.SuccessRateWindow"/> falls below
/// <see cref="PassiveHealthOptions.MinimumSuccessRatePercent"/> with at least <see cref="PassiveHealthOptions.MinimumRequests"/> attempts.
/// </summary>
/// <remarks>
/// <para>
/// Counting is lock-free and touches only the endpoint's own state (one CAS into its outcome window, one counter);
/// the success rate is summed only when a failure arrives. Ejection itself is rare and takes a lock, so the
/// "at most <see cref="PassiveHealthOptions.MaxEjectionPercent"/> ejected at once" rule sees a consistent count.
/// </para>
/// <para>
/// The n-th ejection in a row lasts <c>min(base × n, max)</c> plus up to <see cref="PassiveHealthOptions.EjectionJitter"/>
/// of that; n decays by one for each base period the endpoint then stays admitted. When an ejection ends the endpoint
/// is routable again in the <see cref="EjectionPhase.Probing"/> phase: its next outcome (one probe request at a time) or
/// a successful heartbeat re-admits it; a failure ejects it again, for longer. A caller's cancellation is never counted.
/// </para>
/// </remarks>
internal sealed class OutlierDetector : IDisposable
{
    private readonly IHealthReporter _service;
    private readonly string _serviceName;
    private readonly PassiveHealthOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly Random _random;
    private readonly SlowStartCurve? _slowStart;
    private readonly long _bucketTicks;
    private readonly Lock _lock = new();
    private readonly ConcurrentDictionary<EndpointHealth, ITimer> _timers = new();
    private bool _disposed;

    public OutlierDetector(string serviceName, IHealthReporter service, PassiveHealthOptions options, TimeProvider timeProvider, Random random, SlowStartCurve? slowStart)
    {
        _serviceName = serviceName;
        _service = service;
        _options = options;
        _timeProvider = timeProvider;
        _random = random;
        _slowStart = slowStart;
        _bucketTicks = Math.Max(1, options.SuccessRateWindow.Ticks / OutcomeWindow.Buckets);
    }

    /// <summary>Counts one completed attempt. Called on the request path, after the attempt's lease completed.</summary>
    public void OnAttemptCompleted(MeshEndpoint endpoint, AttemptOutcome outcome)
    {
        var health = endpoint.Health;
        if (outcome == AttemptOutcome.Canceled)
        {
            if (health.Phase == EjectionPhase.Probing)
            {
                health.ReleaseProbe();
            }

            return;
        }

        if (!_options.Enabled)
        {
            return;
        }

        bool failed = outcome != AttemptOutcome.Success;
        switch (health.Phase)
        {
            case EjectionPhase.Ejected:
                return; // attempts in flight when it was ejected (or sent in panic) say nothing new
            case EjectionPhase.Probing:
                if (failed)
                {
                    Eject(endpoint, $"the probe after its ejection failed ({outcome})");
                }
                else
                {
                    Readmit(endpoint, "a probe request succeeded");
                }

                return;
        }

        long nowTicks = NowTicks();
        health.Window.Record(!failed, nowTicks / _bucketTicks);
        if (!failed)
        {
            health.ResetConsecutiveFailures();
            return;
        }

        int consecutive = health.IncrementConsecutiveFailures();
        if (_options.ConsecutiveFailures > 0 && consecutive >= _options.ConsecutiveFailures)
        {
            Eject(endpoint, $"{consecutive} consecutive failures, the last {outcome}");
            return;
        }

        if (_options.MinimumSuccessRatePercent > 0)
        {
            var (successes, failures) = health.Window.Sum(nowTicks / _bucketTicks);
            long total = successes + failures;
            if (total >= _options.MinimumRequests && successes * 100.0 < _options.MinimumSuccessRatePercent * total)
            {
                Eject(endpoint, $"success rate {successes * 100.0 / total:0.#} % over {total} attempts, below {_options.MinimumSuccessRatePercent} %");
            }
        }
    }

    /// <summary>A heartbeat succeeded: an endpoint probing after its ejection is re-admitted.</summary>
    public void OnHeartbeatSucceeded(MeshEndpoint endpoint)
    {
        if (endpoint.Health.Phase == EjectionPhase.Probing)
        {
            Readmit(endpoint, "a heartbeat succeeded");
        }
    }

    private void Eject(MeshEndpoint endpoint, string reason)
    {
        var health = endpoint.Health;
        HealthTransition transition;
        bool ejectedNow = false;
        lock (_lock)
        {
            if (_disposed || health.Phase == EjectionPhase.Ejected)
            {
                return;
            }

            var members = _service.Endpoints.Endpoints;
            if (health.Phase == EjectionPhase.None)
            {
                // A probing endpoint is still counted as ejected, so re-ejecting it never needs room.
                int ejected = 0;
                foreach (var member in members)
                {
                    ejected += member.Health.Phase != EjectionPhase.None ? 1 : 0;
                }

                int allowed = Math.Max(1, (int)Math.Floor(members.Length * _options.MaxEjectionPercent / 100.0));
                if (ejected >= allowed)
                {
                    transition = new HealthTransition(_serviceName, HealthTransitionKind.EjectionSkipped, endpoint,
                        reason, Available: members.Length - ejected, Members: members.Length);
                }
                else
                {
                    transition = EjectLocked(endpoint, reason);
                    ejectedNow = true;
                }
            }
            else
            {
                transition = EjectLocked(endpoint, reason);
                ejectedNow = true;
            }
        }

        if (ejectedNow)
        {
            _service.OnHealthChanged();
        }

        _service.Report(transition);
    }

    private HealthTransition EjectLocked(MeshEndpoint endpoint, string reason)
    {
        var health = endpoint.Health;
        long nowTicks = NowTicks();
        int times = DecayedTimesEjected(health, nowTicks) + 1;
        long baseTicks = _options.BaseEjectionTime.Ticks;
        long ticks = Math.Min(_options.MaxEjectionTime.Ticks, baseTicks * (long)Math.Min(times, 1_000_000));
        double jitter;
        lock (_random)
        {
            jitter = _random.NextDouble();
        }

        ticks += (long)(ticks * _options.EjectionJitter * jitter);
        var duration = TimeSpan.FromTicks(ticks);
        health.MarkEjected(times, nowTicks + ticks);

        var timer = _timeProvider.CreateTimer(static s => ((EjectionTimer)s!).Fire(), new EjectionTimer(this, endpoint),
            duration, Timeout.InfiniteTimeSpan);
        if (_timers.TryRemove(health, out var previous))
        {
            previous.Dispose();
        }

        _timers[health] = timer;
        return new HealthTransition(_serviceName, HealthTransitionKind.Ejected, endpoint, reason, duration, times);
    }

    /// <summary>
    /// Takes over the ejections a previous detector of the service started (its options reloaded and it was disposed with
    /// their timers): each ends when it was due to, and the endpoint then probes as usual.
    /// </summary>
    public void Adopt(ReadOnlySpan<MeshEndpoint> endpoints)
    {
        long nowTicks = NowTicks();
        foreach (var endpoint in endpoints)
        {
            var health = endpoint.Health;
            if (health.Phase != EjectionPhase.Ejected)
            {
                continue;
            }

            // At least one tick ahead, so the timer never fires inside the caller's lock.
            var remaining = TimeSpan.FromTicks(Math.Max(1, health.EjectedUntilTicks - nowTicks));
            lock (_lock)
            {
                if (_disposed)
                {
                    return;
                }

                var timer = _timeProvider.CreateTimer(static s => ((EjectionTimer)s!).Fire(), new EjectionTimer(this, endpoint),
                    remaining, Timeout.InfiniteTimeSpan);
                if (_timers.TryRemove(health, out var previous))
                {
                    previous.Dispose();
                }

                _timers[health] = timer;
            }
        }
    }

    private int DecayedTimesEjected(EndpointHealth health, long nowTicks)
    {
        int times = health.TimesEjected;
        long readmitted = health.ReadmittedTicks;
        if (times == 0 || readmitted == long.MinValue)
        {
            return times;
        }

        long periods = (nowTicks - readmitted) / _options.BaseEjectionTime.Ticks;
        return (int)Math.Max(0, times - periods);
    }

    private void OnEjectionEnded(MeshEndpoint endpoint)
    {
        lock (_lock)
        {
            if (_disposed || !endpoint.Health.TryStartProbing())
            {
                return;
            }

            if (_timers.TryRemove(endpoint.Health, out var timer))
            {
                timer.Dispose();
            }
        }

        _service.OnHealthChanged();
        _service.Report(new HealthTransition(_serviceName, HealthTransitionKind.EjectionEnded, endpoint, "its ejection time elapsed"));
    }

    private void Readmit(MeshEndpoint endpoint, string reason)
    {
        long nowTicks = NowTicks();
        if (!endpoint.Health.TryReadmit(nowTicks))
        {
            return;
        }

        endpoint.Health.BeginSlowStart(nowTicks, _slowStart);
        if (_slowStart is not null)
        {
            // The endpoint was routable while probing, so nothing else republishes: balancers learn of the ramp here.
            _service.OnHealthChanged();
        }

        _service.Report(new HealthTransition(_serviceName, HealthTransitionKind.Readmitted, endpoint, reason,
            TimesEjected: endpoint.Health.TimesEjected));
    }

    private long NowTicks() => MonotonicClock.Ticks(_timeProvider, _timeProvider.GetTimestamp());

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
        }

        foreach (var timer in _timers.Values)
        {
            timer.Dispose();
        }

        _timers.Clear();
    }

    private sealed class EjectionTimer(OutlierDetector detector, MeshEndpoint endpoint)
    {
        public void Fire() => detector.OnEjectionEnded(endpoint);
    }
}
