using System.Diagnostics;
using System.Globalization;
using Mesh.Client.Diagnostics;
using Mesh.Client.Discovery;
using Mesh.Client.Routing;

namespace Mesh.Client.Health;

/// <summary>
/// Background heartbeats for one service (active health checks, as YARP's and Envoy's): a GET to
/// <see cref="ActiveHealthCheckOptions.Path"/>, or a gRPC health check (<c>grpc.health.v1.Health/Check</c> for
/// <see cref="ActiveHealthCheckOptions.GrpcService"/>), on each endpoint every <see cref="ActiveHealthCheckOptions.Interval"/>, through the
/// prober's own handler (never back through the mesh). <see cref="ActiveHealthCheckOptions.UnhealthyThreshold"/> failures
/// in a row set the endpoint's active opinion to unhealthy; <see cref="ActiveHealthCheckOptions.HealthyThreshold"/>
/// successes set it to healthy.
/// </summary>
/// <remarks>
/// <para>
/// Each endpoint has its own one-shot timer, re-armed when its probe ends, so a slow endpoint never has two probes in
/// flight. A new endpoint is probed at once; its second probe comes after a uniformly random share of the interval,
/// which spreads endpoints over the interval; after that, every interval ± <see cref="ActiveHealthCheckOptions.Jitter"/>.
/// </para>
/// <para>Starts with the service (lazily, on its first use) and stops when the service is disposed.</para>
/// </remarks>
internal sealed class HeartbeatProber : IDisposable
{
    private readonly IHealthReporter _service;
    private readonly string _serviceName;
    private readonly bool _logicalHost;
    private readonly ServiceTelemetry _telemetry;
    private readonly OutlierDetector? _detector;
    private readonly ActiveHealthCheckOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly HttpMessageInvoker _invoker;
    private readonly Random _random;
    private readonly SlowStartCurve? _slowStart;
    private readonly Lock _lock = new();
    private readonly Dictionary<EndpointHealth, Probe> _probes = [];
    private readonly CancellationTokenSource _stopping = new();
    private bool _disposed;

    public HeartbeatProber(string serviceName, IHealthReporter service, ActiveHealthCheckOptions options, bool logicalHost,
        ServiceTelemetry telemetry, OutlierDetector? detector, TimeProvider timeProvider, HttpMessageHandler handler, Random random,
        SlowStartCurve? slowStart)
    {
        _serviceName = serviceName;
        _service = service;
        _logicalHost = logicalHost;
        _telemetry = telemetry;
        _detector = detector;
        _options = options;
        _timeProvider = timeProvider;
        _invoker = new HttpMessageInvoker(handler, disposeHandler: true);
        _random = random;
        _slowStart = slowStart;
    }

    /// <summary>Probes completed since start, whatever their result (for tests and diagnostics).</summary>
    public long ProbesCompleted => Interlocked.Read(ref _probesCompleted);

    private long _probesCompleted;

    /// <summary>Raised when a probe has been recorded and the endpoint's next probe scheduled (for tests and diagnostics).</summary>
    internal event Action<MeshEndpoint>? ProbeFinished;

    /// <summary>Takes the service's current members: starts probing new ones at once, stops probing removed ones.</summary>
    public void Update(EndpointSet members)
    {
        List<Probe>? started = null;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            var current = new HashSet<EndpointHealth>();
            foreach (var endpoint in members.Endpoints)
            {
                current.Add(endpoint.Health);
                if (_probes.TryGetValue(endpoint.Health, out var existing))
                {
                    existing.Endpoint = endpoint; // re-published with a new description: probe the latest
                    continue;
                }

                var probe = new Probe(this, endpoint);
                _probes.Add(endpoint.Health, probe);
                (started ??= []).Add(probe);
            }

            List<EndpointHealth>? removed = null;
            foreach (var (health, probe) in _probes)
            {
                if (!current.Contains(health))
                {
                    probe.Stop();
                    (removed ??= []).Add(health);
                }
            }

            foreach (var health in removed ?? [])
            {
                _probes.Remove(health);
            }
        }

        // A new endpoint is probed at once, outside the lock (a probe that completes synchronously re-arms its timer).
        foreach (var probe in started ?? [])
        {
            probe.Start();
        }
    }

    private async Task RunProbeAsync(Probe probe)
    {
        var endpoint = probe.Endpoint;
        bool healthy;
        string detail;
        using var activity = MeshTracing.StartHeartbeat(_serviceName, endpoint);
        long started = _timeProvider.GetTimestamp();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        using var timer = _timeProvider.CreateTimer(static s => ((CancellationTokenSource)s!).Cancel(), timeout,
            _options.Timeout, Timeout.InfiniteTimeSpan);
        string what = _options.GrpcService is { } grpcService
            ? (grpcService.Length == 0 ? GrpcHealthProtocol.Path : $"{GrpcHealthProtocol.Path} '{grpcService}'")
            : $"GET {_options.Path}";
        try
        {
            (healthy, detail) = _options.GrpcService is { } service
                ? await ProbeGrpcAsync(endpoint, service, what, timeout.Token).ConfigureAwait(false)
                : await ProbeHttpAsync(endpoint, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            return;
        }
        catch (OperationCanceledException)
        {
            healthy = false;
            detail = string.Create(CultureInfo.InvariantCulture, $"{what} timed out after {_options.Timeout.TotalSeconds:0.###} s");
        }
        catch (Exception ex) when (ex is not ObjectDisposedException)
        {
            healthy = false;
            detail = $"{what} failed: {ex.Message}";
        }

        Interlocked.Increment(ref _probesCompleted);
        _telemetry.OnHeartbeat(endpoint, healthy, _timeProvider.GetElapsedTime(started));
        if (!healthy)
        {
            activity?.SetStatus(ActivityStatusCode.Error, detail);
        }

        Record(endpoint, healthy, detail);
    }

    private async Task<(bool Healthy, string Detail)> ProbeHttpAsync(MeshEndpoint endpoint, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get,
            new Uri(string.Concat(endpoint.Scheme, Uri.SchemeDelimiter, endpoint.Authority, _options.Path), UriKind.Absolute));
        if (_logicalHost)
        {
            request.Headers.Host = _serviceName;
        }

        using var response = await _invoker.SendAsync(request, cancellationToken).ConfigureAwait(false);
        int status = (int)response.StatusCode;
        bool healthy = _options.ExpectedStatusCodes is { } expected ? expected.Contains(status) : status is >= 200 and < 300;
        return (healthy, string.Create(CultureInfo.InvariantCulture, $"GET {_options.Path} answered {status}"));
    }

    /// <summary>
    /// The gRPC health protocol: a POST of <c>HealthCheckRequest { service }</c> to <c>grpc.health.v1.Health/Check</c> over
    /// HTTP/2 (h2c for http endpoints, TLS with ALPN for https). Healthy when the call ends with <c>grpc-status</c> 0 and the
    /// answer is <c>SERVING</c>.
    /// </summary>
    private async Task<(bool Healthy, string Detail)> ProbeGrpcAsync(MeshEndpoint endpoint, string service, string what, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post,
            new Uri(string.Concat(endpoint.Scheme, Uri.SchemeDelimiter, endpoint.Authority, GrpcHealthProtocol.Path), UriKind.Absolute))
        {
            Version = System.Net.HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(GrpcHealthProtocol.EncodeRequest(service)),
        };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/grpc");
        request.Headers.TryAddWithoutValidation("TE", "trailers");
        request.Headers.TryAddWithoutValidation("grpc-accept-encoding", "identity");
        if (_logicalHost)
        {
            request.Headers.Host = _serviceName;
        }

        using var response = await _invoker.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != System.Net.HttpStatusCode.OK)
        {
            return (false, string.Create(CultureInfo.InvariantCulture, $"{what} answered HTTP {(int)response.StatusCode}"));
        }

        byte[] body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        // A trailers-only answer (an error before any message) carries grpc-status in its headers.
        int? grpcStatus = FailureStatusSet.GrpcStatus(response.TrailingHeaders) ?? FailureStatusSet.GrpcStatus(response.Headers);
        if (grpcStatus is not 0)
        {
            string code = grpcStatus is { } c ? GrpcHealthProtocol.CodeName(c) : "no grpc-status";
            return (false, $"{what} ended with {code}");
        }

        if (!GrpcHealthProtocol.TryDecodeResponse(body, out int serving))
        {
            return (false, $"{what} answered a malformed HealthCheckResponse");
        }

        return (serving == GrpcHealthProtocol.Serving, $"{what} answered {GrpcHealthProtocol.StatusName(serving)}");
    }

    private void Record(MeshEndpoint endpoint, bool healthy, string detail)
    {
        var health = endpoint.Health;
        if (healthy)
        {
            int successes = health.RecordProbeSuccess();
            if (successes >= _options.HealthyThreshold || health.Active == HealthOpinion.Unknown)
            {
                var before = health.Active;
                if (health.SetActive(HealthOpinion.Healthy))
                {
                    if (before == HealthOpinion.Unhealthy)
                    {
                        health.BeginSlowStart(MonotonicClock.Ticks(_timeProvider, _timeProvider.GetTimestamp()), _slowStart);
                        _service.OnHealthChanged();
                    }

                    _service.Report(new HealthTransition(_serviceName, HealthTransitionKind.ActiveHealthy, endpoint, detail));
                }
            }

            _detector?.OnHeartbeatSucceeded(endpoint);
            return;
        }

        int failures = health.RecordProbeFailure();
        if (failures >= _options.UnhealthyThreshold && health.SetActive(HealthOpinion.Unhealthy))
        {
            _service.OnHealthChanged();
            _service.Report(new HealthTransition(_serviceName, HealthTransitionKind.ActiveUnhealthy, endpoint,
                string.Create(CultureInfo.InvariantCulture, $"{failures} failed probes in a row, the last: {detail}")));
        }
    }

    private TimeSpan NextDelay(bool first)
    {
        double factor;
        lock (_random)
        {
            factor = first ? _random.NextDouble() : 1 + (_options.Jitter * ((2 * _random.NextDouble()) - 1));
        }

        return TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond, (long)(_options.Interval.Ticks * factor)));
    }

    public void Dispose()
    {
        List<Probe> probes;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            probes = [.. _probes.Values];
            _probes.Clear();
        }

        foreach (var probe in probes)
        {
            probe.Stop();
        }

        _stopping.Cancel();
        _invoker.Dispose();
        _stopping.Dispose();
    }

    /// <summary>One endpoint's probe loop: a one-shot timer that runs a probe and re-arms when the probe ends.</summary>
    private sealed class Probe
    {
        private readonly HeartbeatProber _prober;
        private readonly Lock _lock = new();
        private ITimer? _timer;
        private bool _stopped;
        private bool _probedOnce;

        public Probe(HeartbeatProber prober, MeshEndpoint endpoint)
        {
            _prober = prober;
            Endpoint = endpoint;
        }

        public MeshEndpoint Endpoint { get; set; }

        public void Arm(TimeSpan due)
        {
            lock (_lock)
            {
                if (_stopped)
                {
                    return;
                }

                _timer ??= _prober._timeProvider.CreateTimer(static s => ((Probe)s!).Fire(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                _timer.Change(due, Timeout.InfiniteTimeSpan);
            }
        }

        public void Stop()
        {
            lock (_lock)
            {
                _stopped = true;
                _timer?.Dispose();
                _timer = null;
            }
        }

        public void Start() => _ = RunAsync();

        private void Fire() => _ = RunAsync();

        private async Task RunAsync()
        {
            try
            {
                await _prober.RunProbeAsync(this).ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                return; // the prober stopped while this probe ran
            }

            bool first = !_probedOnce;
            _probedOnce = true;
            if (!_prober._stopping.IsCancellationRequested)
            {
                Arm(_prober.NextDelay(first));
                _prober.ProbeFinished?.Invoke(Endpoint);
            }
        }
    }
}
