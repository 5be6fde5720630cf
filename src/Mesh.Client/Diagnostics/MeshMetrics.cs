using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Mesh.Client.Discovery;
using Microsoft.Extensions.Options;

namespace Mesh.Client.Diagnostics;

/// <summary>
/// The mesh's instruments, on the meter <c>Mesh.Client</c> created from the application's <see cref="IMeterFactory"/>.
/// One per service provider; services record through their <see cref="ServiceTelemetry"/>.
/// </summary>
/// <remarks>
/// <para>Synchronous instruments are recorded only when a listener enabled them (<see cref="Instrument.Enabled"/>), with tags
/// in a <see cref="TagList"/> (on the stack for up to eight tags): with no listener, a request pays two field reads and
/// two branches. State that always exists (in-flight, endpoints by state, panic) is observed on collection instead of
/// being recorded per change, so it costs nothing until an exporter asks.</para>
/// <para>The endpoint tag takes as many values as the service has endpoints (over time: as many as it has had);
/// <see cref="MeshClientOptions.IncludeEndpointInMetrics"/> turns it off for very large services.</para>
/// </remarks>
internal sealed class MeshMetrics : IDisposable
{
    private static readonly string[] s_outcomes = ["success", "failure_status", "connect_failure", "timeout", "canceled"];

    private readonly Meter _meter;
    private readonly Counter<long> _requests;
    private readonly Histogram<double> _requestDuration;
    private readonly Counter<long> _ejections;
    private readonly Counter<long> _retries;
    private readonly Counter<long> _hedges;
    private readonly Counter<long> _retryBudgetExhausted;
    private readonly Counter<long> _resolverUpdates;
    private readonly Counter<long> _resolverErrors;
    private readonly Histogram<double> _heartbeatDuration;
    private readonly IDisposable? _optionsSubscription;
    private volatile bool _includeEndpoint;
    private volatile Func<IEnumerable<IObservedService>>? _services;

    public MeshMetrics(IMeterFactory meterFactory, IOptionsMonitor<MeshClientOptions> options)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        ArgumentNullException.ThrowIfNull(options);
        _includeEndpoint = options.CurrentValue.IncludeEndpointInMetrics;
        _optionsSubscription = options.OnChange(o => _includeEndpoint = o.IncludeEndpointInMetrics);

        _meter = meterFactory.Create(new MeterOptions(MeshTelemetry.MeterName));
        var durationAdvice = new InstrumentAdvice<double> { HistogramBucketBoundaries = MeshInstruments.DurationBuckets };

        _requests = _meter.CreateCounter<long>(MeshInstruments.Requests, "{request}",
            "Attempts sent to endpoints, by service, endpoint and outcome. A retried request counts once per attempt.");
        _requestDuration = _meter.CreateHistogram(MeshInstruments.RequestDuration, "s",
            "Time from sending an attempt to its response headers (or failure), by service, endpoint and outcome.",
            tags: null, advice: durationAdvice);
        _meter.CreateObservableUpDownCounter(MeshInstruments.EndpointInFlight, ObserveInFlight, "{request}",
            "Attempts in flight, per endpoint (per service when the endpoint tag is off).");
        _meter.CreateObservableUpDownCounter(MeshInstruments.Endpoints, ObserveEndpoints, "{endpoint}",
            "Endpoints of each service by state: available, ejected (passive health), unhealthy (heartbeats).");
        _meter.CreateObservableGauge(MeshInstruments.Panic, ObservePanic, unit: null,
            "1 while a service is in panic (fewer endpoints available than its panic threshold), else 0.");
        _ejections = _meter.CreateCounter<long>(MeshInstruments.Ejections, "{ejection}",
            "Endpoints ejected by passive health (outlier detection).");
        _retries = _meter.CreateCounter<long>(MeshInstruments.Retries, "{retry}",
            "Attempts retried on another endpoint.");
        _hedges = _meter.CreateCounter<long>(MeshInstruments.Hedges, "{hedge}",
            "Hedged attempts sent while an earlier attempt was still outstanding.");
        _retryBudgetExhausted = _meter.CreateCounter<long>(MeshInstruments.RetryBudgetExhausted, "{retry}",
            "Retries or hedges not sent because the retry budget was spent.");
        _resolverUpdates = _meter.CreateCounter<long>(MeshInstruments.ResolverUpdates, "{update}",
            "Resolver snapshots that changed a service's endpoints (the first snapshot included).");
        _resolverErrors = _meter.CreateCounter<long>(MeshInstruments.ResolverErrors, "{error}",
            "Resolver refreshes that failed (the last good endpoints were kept).");
        _heartbeatDuration = _meter.CreateHistogram(MeshInstruments.HeartbeatDuration, "s",
            "Time a heartbeat probe took, by service, endpoint and result.", tags: null, advice: durationAdvice);
    }

    /// <summary>Whether the endpoint tag is recorded (<see cref="MeshClientOptions.IncludeEndpointInMetrics"/>).</summary>
    public bool IncludeEndpoint => _includeEndpoint;

    /// <summary>Takes a reloaded <see cref="MeshClientOptions.IncludeEndpointInMetrics"/> (the registry follows the mesh's configuration).</summary>
    internal void SetIncludeEndpoint(bool include) => _includeEndpoint = include;

    /// <summary>The registry whose services the observable instruments report. Set once by the registry.</summary>
    internal void Observe(Func<IEnumerable<IObservedService>> services) => _services = services;

    /// <summary>One attempt against <paramref name="endpoint"/> ended: counts it and records its duration.</summary>
    /// <remarks>
    /// Split in two so the request path, with no listener, runs only the two <see cref="Instrument.Enabled"/> checks:
    /// the method that builds the <see cref="TagList"/> has a large stack frame the runtime zeroes on entry, which
    /// would otherwise be paid on every request.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void RecordAttempt(ServiceTelemetry service, MeshEndpoint endpoint, AttemptOutcome outcome, TimeSpan elapsed, string? route = null)
    {
        if (_requests.Enabled || _requestDuration.Enabled)
        {
            RecordAttemptCore(service, endpoint, outcome, elapsed, route);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void RecordAttemptCore(ServiceTelemetry service, MeshEndpoint endpoint, AttemptOutcome outcome, TimeSpan elapsed, string? route)
    {
        var tags = ServiceTags(service);
        AddEndpoint(ref tags, endpoint);
        tags.Add(MeshInstruments.OutcomeTag, OutcomeTagValue(outcome));
        if (route is not null)
        {
            tags.Add(MeshInstruments.RouteTag, route); // only for requests that went through a route
        }

        _requests.Add(1, tags);
        _requestDuration.Record(elapsed.TotalSeconds, tags);
    }

    public void RecordEjection(ServiceTelemetry service, MeshEndpoint endpoint)
    {
        if (_ejections.Enabled)
        {
            var tags = ServiceTags(service);
            AddEndpoint(ref tags, endpoint);
            _ejections.Add(1, tags);
        }
    }

    public void RecordRetry(ServiceTelemetry service, AttemptOutcome previousOutcome)
    {
        if (_retries.Enabled)
        {
            var tags = ServiceTags(service);
            tags.Add(MeshInstruments.OutcomeTag, OutcomeTagValue(previousOutcome));
            _retries.Add(1, tags);
        }
    }

    public void RecordHedge(ServiceTelemetry service)
    {
        if (_hedges.Enabled)
        {
            _hedges.Add(1, ServiceTags(service));
        }
    }

    public void RecordRetryBudgetExhausted(ServiceTelemetry service)
    {
        if (_retryBudgetExhausted.Enabled)
        {
            _retryBudgetExhausted.Add(1, ServiceTags(service));
        }
    }

    public void RecordResolverUpdate(ServiceTelemetry service, string resolver)
    {
        if (_resolverUpdates.Enabled)
        {
            var tags = ServiceTags(service);
            tags.Add(MeshInstruments.ResolverTag, resolver);
            _resolverUpdates.Add(1, tags);
        }
    }

    public void RecordResolverError(ServiceTelemetry service, string resolver)
    {
        if (_resolverErrors.Enabled)
        {
            var tags = ServiceTags(service);
            tags.Add(MeshInstruments.ResolverTag, resolver);
            _resolverErrors.Add(1, tags);
        }
    }

    public void RecordHeartbeat(ServiceTelemetry service, MeshEndpoint endpoint, bool healthy, TimeSpan elapsed)
    {
        if (_heartbeatDuration.Enabled)
        {
            var tags = ServiceTags(service);
            AddEndpoint(ref tags, endpoint);
            tags.Add(MeshInstruments.HeartbeatResultTag, healthy ? "healthy" : "unhealthy");
            _heartbeatDuration.Record(elapsed.TotalSeconds, tags);
        }
    }

    internal static string OutcomeTagValue(AttemptOutcome outcome) =>
        (uint)outcome < (uint)s_outcomes.Length ? s_outcomes[(int)outcome] : "unknown";

    private static TagList ServiceTags(ServiceTelemetry service) => new()
    {
        { MeshInstruments.ClientTag, service.ClientName },
        { MeshInstruments.ServiceTag, service.ServiceName },
    };

    private void AddEndpoint(ref TagList tags, MeshEndpoint endpoint)
    {
        if (_includeEndpoint)
        {
            tags.Add(MeshInstruments.EndpointTag, endpoint.Authority);
        }
    }

    private IEnumerable<IObservedService> Services => _services?.Invoke() ?? [];

    private List<Measurement<int>> ObserveInFlight()
    {
        var measurements = new List<Measurement<int>>();
        bool perEndpoint = _includeEndpoint;
        foreach (var state in Services)
        {
            var tags = ServiceTags(state.Telemetry);
            int total = 0;
            foreach (var endpoint in state.Endpoints.Endpoints)
            {
                int inFlight = endpoint.Load.InFlight;
                if (perEndpoint)
                {
                    var endpointTags = tags;
                    endpointTags.Add(MeshInstruments.EndpointTag, endpoint.Authority);
                    measurements.Add(new Measurement<int>(inFlight, endpointTags));
                }

                total += inFlight;
            }

            if (!perEndpoint)
            {
                measurements.Add(new Measurement<int>(total, tags));
            }
        }

        return measurements;
    }

    private List<Measurement<int>> ObserveEndpoints()
    {
        var measurements = new List<Measurement<int>>();
        Span<int> counts = stackalloc int[3];
        foreach (var state in Services)
        {
            counts.Clear();
            foreach (var endpoint in state.Endpoints.Endpoints)
            {
                counts[(int)EndpointStates.Of(endpoint.Health)]++;
            }

            // Every state is reported, zeros included, so a series does not vanish when its count drops to zero.
            for (int i = 0; i < counts.Length; i++)
            {
                var tags = ServiceTags(state.Telemetry);
                tags.Add(MeshInstruments.StateTag, EndpointStates.TagValue((EndpointState)i));
                measurements.Add(new Measurement<int>(counts[i], tags));
            }
        }

        return measurements;
    }

    private List<Measurement<int>> ObservePanic()
    {
        var measurements = new List<Measurement<int>>();
        foreach (var state in Services)
        {
            if (state.IsResolved)
            {
                // Below the threshold whatever the panic mode: with FailFast the set is not marked panic, but the
                // service is just as short of endpoints.
                measurements.Add(new Measurement<int>(state.IsBelowPanicThreshold ? 1 : 0, ServiceTags(state.Telemetry)));
            }
        }

        return measurements;
    }

    public void Dispose()
    {
        // The meter belongs to the factory, which disposes it (and may hand the same instance to others).
        _optionsSubscription?.Dispose();
    }
}
