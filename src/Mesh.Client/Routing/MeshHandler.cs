using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using Mesh.Client.Balancing;
using Mesh.Client.Discovery;
using Mesh.Client.Resilience;

namespace Mesh.Client.Routing;

/// <summary>
/// The mesh's place in an <see cref="HttpClient"/> pipeline: sends each request for a logical service
/// (<c>http://catalog/items</c>) to one of the service's endpoints, picked by its balancer, and retries failed
/// attempts on other endpoints under the service's retry budget.
/// </summary>
/// <remarks>
/// <para>Per request: the URI's host names the service; the service's current snapshot is read (the first request waits
/// for the first resolution, bounded by <see cref="MeshServiceOptions.ResolutionTimeout"/>; a service with no routable
/// endpoint waits up to <see cref="TimeoutOptions.WaitForEndpoint"/>, then fails); the balancer picks; the request
/// URI's scheme, host and port are rewritten to the endpoint's (path, query, headers and body unchanged); the attempt is
/// sent, timed and accounted (latency, passive health); a retryable failure is retried on an endpoint not yet tried
/// (<see cref="RetryOptions"/>); and <see cref="HttpRequestMessage.RequestUri"/> is restored.</para>
/// <para>Latency is measured from the send to the response headers, the point at which this handler gets the response
/// back; body transfer is not included.</para>
/// <para>The first attempt costs what a single send costs: retry state lives in the request's own async frame (the
/// tried endpoints in an inline buffer), the budget deposit is one compare-and-swap, and nothing else is touched
/// unless an attempt fails, a timeout is configured or hedging is on.</para>
/// <para>Handlers are created by <c>IHttpClientFactory</c> and rotated with its handler lifetime; all state lives in the
/// registry, so rotation loses nothing.</para>
/// </remarks>
internal sealed class MeshHandler : DelegatingHandler
{
    private readonly ClientServices _services;
    private readonly TimeProvider _timeProvider;

    public MeshHandler(ClientServices services)
    {
        _services = services;
        _timeProvider = services.Registry.TimeProvider;
    }

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var uri = request.RequestUri;
        if (uri is null || !uri.IsAbsoluteUri)
        {
            throw new InvalidOperationException(
                "A request through the mesh needs an absolute URI whose host names the service, such as http://catalog/items; set HttpClient.BaseAddress or use an absolute URI.");
        }

        var key = new RouteKey(uri.Scheme, uri.Host);
        if (!_services.TryGet(key, out var state))
        {
            state = _services.GetOrCreate(key, out var resolversAsked);
            if (state is null)
            {
                return _services.Registry.ClientOptions.PassThroughUnknownHosts
                    ? base.SendAsync(request, cancellationToken)
                    : throw new UnknownServiceException(key.Host, resolversAsked);
            }
        }

        return state.IsResolved
            ? SendToServiceAsync(state, request, uri, cancellationToken)
            : SendAfterFirstResolutionAsync(state, request, uri, cancellationToken);
    }

    private async Task<HttpResponseMessage> SendAfterFirstResolutionAsync(ServiceState state, HttpRequestMessage request, Uri uri,
        CancellationToken cancellationToken)
    {
        var timeout = state.Options.ResolutionTimeout;
        try
        {
            await state.FirstResolution.WaitAsync(timeout, _timeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new ResolutionTimeoutException(state.ServiceName, state.ResolverName, timeout, state.LastError);
        }

        return await SendToServiceAsync(state, request, uri, cancellationToken).ConfigureAwait(false);
    }

    private Task<HttpResponseMessage> SendToServiceAsync(ServiceState state, HttpRequestMessage request, Uri logicalUri,
        CancellationToken cancellationToken)
    {
        var options = state.Options;
        // Hash-based balancers place the request by its hash: computed once, the same for every attempt of it.
        ulong? hash = state.RequestHasher?.Compute(request);
        var none = new TriedEndpoints();
        var endpoint = Pick(state, request, hash, ref none);

        // The common case (an endpoint now, no hedging, no total timeout, content that needs no buffering to be
        // replayed) sends its first attempt from a small frame; the retry loop's larger frame is entered only after a
        // failure.
        if (endpoint is not null && !options.Hedging.Enabled && options.Timeouts.Total == Timeout.InfiniteTimeSpan
            && (RetryPolicy.IsReplayable(request.Content) || !options.Retry.Enabled || options.Retry.MaxAttempts <= 1))
        {
            return SendFirstAttemptAsync(state, request, logicalUri, endpoint, hash, cancellationToken);
        }

        return SendWithPoliciesAsync(state, request, logicalUri, hash, endpoint, first: null, cancellationToken);
    }

    private async Task<HttpResponseMessage> SendFirstAttemptAsync(ServiceState state, HttpRequestMessage request, Uri logicalUri,
        MeshEndpoint endpoint, ulong? hash, CancellationToken cancellationToken)
    {
        state.RetryBudget.Deposit();
        bool setHost = SetLogicalHost(state.Options, request, logicalUri);
        AttemptResult result;
        try
        {
            // The attempt inline (not through SendAttemptAsync): one frame for the whole first attempt.
            var scope = BeginAttempt(state, request, logicalUri, endpoint, 1, cancellationToken, default);
            HttpResponseMessage? response = null;
            Exception? failure = null;
            try
            {
                response = await base.SendAsync(request, scope.Token).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                failure = ex;
            }

            result = EndAttempt(state, scope, response, failure, cancellationToken, cancellationToken, default);
        }
        finally
        {
            request.RequestUri = logicalUri;
            if (setHost)
            {
                request.Headers.Host = null;
            }
        }

        return result.Outcome == AttemptOutcome.Success
            ? result.Response!
            : await SendWithPoliciesAsync(state, request, logicalUri, hash, endpoint, result, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Sends with everything the service's options ask for: waiting for an endpoint, buffering content to replay it,
    /// a total timeout, hedging, and retries on other endpoints. <paramref name="first"/> is the failed result of a
    /// first attempt already sent (and the budget already credited for this request), if any.
    /// </summary>
    private async Task<HttpResponseMessage> SendWithPoliciesAsync(ServiceState state, HttpRequestMessage request, Uri logicalUri,
        ulong? hash, MeshEndpoint? endpoint, AttemptResult? first, CancellationToken cancellationToken)
    {
        var options = state.Options;
        var tried = new TriedEndpoints();
        endpoint ??= await WaitForEndpointAsync(state, request, hash, cancellationToken).ConfigureAwait(false);

        if (first is null)
        {
            state.RetryBudget.Deposit();
        }

        var retry = options.Retry;
        bool retries = retry.Enabled && retry.MaxAttempts > 1;
        bool replayable = RetryPolicy.IsReplayable(request.Content);
        if (retries && !replayable)
        {
            replayable = await RetryPolicy.PrepareContentAsync(request, retry, cancellationToken).ConfigureAwait(false);
        }

        // Hedging needs a request it can clone before anything is sent: no content, and retries allowed for it.
        bool hedge = options.Hedging.Enabled && request.Content is null && RetryPolicy.MethodAllows(request);

        CancellationTokenSource? totalCts = null;
        ITimer? totalTimer = null;
        var requestToken = cancellationToken;
        if (options.Timeouts.Total != Timeout.InfiniteTimeSpan)
        {
            totalCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            totalTimer = CancelAfter(totalCts, options.Timeouts.Total);
            requestToken = totalCts.Token;
        }

        bool setHost = SetLogicalHost(options, request, logicalUri);
        int attempts = 0;
        int sameEndpointRetries = 0;
        try
        {
            while (true)
            {
                AttemptResult result;
                if (first is { } sent)
                {
                    result = sent;
                    first = null;
                    tried.Add(sent.Endpoint);
                }
                else if (hedge)
                {
                    (result, tried) = await SendHedgedAsync(state, request, hash, logicalUri, endpoint, tried, cancellationToken, requestToken)
                        .ConfigureAwait(false);
                }
                else
                {
                    result = await SendAttemptAsync(state, request, logicalUri, endpoint, tried.Count + 1, cancellationToken, requestToken, default)
                        .ConfigureAwait(false);
                    tried.Add(endpoint);
                }

                attempts++;
                if (result.Outcome == AttemptOutcome.Success)
                {
                    return result.Response!;
                }

                if (totalCts is not null && totalCts.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                {
                    result.Discard();
                    throw TotalTimeout(state, options.Timeouts.Total);
                }

                if (result.Outcome == AttemptOutcome.Canceled || !retries || attempts >= retry.MaxAttempts || !replayable
                    || !result.IsRetryable || !RetryPolicy.MethodAllows(request))
                {
                    return Finish(state, result);
                }

                // Another endpoint if one is left; otherwise the same one again, after Retry-After or a backoff.
                var next = Pick(state, request, hash, ref tried);
                var delay = TimeSpan.Zero;
                if (next is null)
                {
                    var retryAfter = RetryPolicy.RetryAfter(result.Response, _timeProvider);
                    if (retryAfter > retry.MaxRetryAfter)
                    {
                        return Finish(state, result);
                    }

                    var none = new TriedEndpoints();
                    next = Pick(state, request, hash, ref none);
                    if (next is null)
                    {
                        return Finish(state, result);
                    }

                    delay = retryAfter ?? Backoff(retry.SameEndpointBackoff, sameEndpointRetries++);
                }

                if (!state.RetryBudget.TryWithdraw())
                {
                    state.Telemetry.OnRetryBudgetExhausted();
                    return Finish(state, result);
                }

                state.Telemetry.OnRetry(result.Endpoint, result.Outcome, nextAttempt: tried.Count + 1);
                result.Discard();
                if (delay > TimeSpan.Zero)
                {
                    try
                    {
                        await Task.Delay(delay, _timeProvider, requestToken).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                    {
                        throw TotalTimeout(state, options.Timeouts.Total);
                    }
                }

                endpoint = next;
            }
        }
        finally
        {
            request.RequestUri = logicalUri;
            if (setHost)
            {
                request.Headers.Host = null;
            }

            totalTimer?.Dispose();
            totalCts?.Dispose();
        }
    }

    /// <summary>
    /// One attempt: rewrite the URI, send, classify, complete the lease and account the outcome. Pooled, so an attempt
    /// that completes asynchronously allocates no state machine of its own when the pool has one.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<AttemptResult> SendAttemptAsync(ServiceState state, HttpRequestMessage request, Uri logicalUri, MeshEndpoint endpoint, int attempt,
        CancellationToken callerToken, CancellationToken requestToken, CancellationToken hedgeToken)
    {
        var scope = BeginAttempt(state, request, logicalUri, endpoint, attempt, requestToken, hedgeToken);
        HttpResponseMessage? response = null;
        Exception? failure = null;
        try
        {
            response = await base.SendAsync(request, scope.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            failure = ex;
        }

        return EndAttempt(state, scope, response, failure, callerToken, requestToken, hedgeToken);
    }

    /// <summary>Starts an attempt: rewrites the URI, arms the attempt timeout (and a hedge's cancellation), takes the lease.</summary>
    private AttemptScope BeginAttempt(ServiceState state, HttpRequestMessage request, Uri logicalUri, MeshEndpoint endpoint, int attempt,
        CancellationToken requestToken, CancellationToken hedgeToken)
    {
        request.RequestUri = RewriteUri(logicalUri, endpoint);
        var attemptTimeout = state.Options.Timeouts.Attempt;
        CancellationTokenSource? attemptCts = null;
        ITimer? attemptTimer = null;
        var token = requestToken;
        if (attemptTimeout != Timeout.InfiniteTimeSpan || hedgeToken.CanBeCanceled)
        {
            attemptCts = hedgeToken.CanBeCanceled
                ? CancellationTokenSource.CreateLinkedTokenSource(requestToken, hedgeToken)
                : CancellationTokenSource.CreateLinkedTokenSource(requestToken);
            if (attemptTimeout != Timeout.InfiniteTimeSpan)
            {
                attemptTimer = CancelAfter(attemptCts, attemptTimeout);
            }

            token = attemptCts.Token;
        }

        state.Telemetry.OnAttemptStarting(endpoint, attempt);
        return new AttemptScope(endpoint, endpoint.Begin(_timeProvider), attemptCts, attemptTimer, token);
    }

    /// <summary>Ends an attempt: classifies its response or exception, completes the lease, accounts the outcome.</summary>
    private static AttemptResult EndAttempt(ServiceState state, in AttemptScope scope, HttpResponseMessage? response, Exception? failure,
        CancellationToken callerToken, CancellationToken requestToken, CancellationToken hedgeToken)
    {
        scope.Timer?.Dispose();
        scope.Cts?.Dispose();
        var endpoint = scope.Endpoint;
        AttemptOutcome outcome;
        ExceptionDispatchInfo? error = null;
        if (failure is null)
        {
            outcome = state.FailureStatuses.Classify(response!);
        }
        else
        {
            // A caller's cancellation, or the mesh cancelling a losing hedge, says nothing about the endpoint (YARP #2062).
            outcome = failure is OperationCanceledException
                ? callerToken.IsCancellationRequested || hedgeToken.IsCancellationRequested ? AttemptOutcome.Canceled : AttemptOutcome.Timeout
                : AttemptOutcome.ConnectFailure;
            var attemptTimeout = state.Options.Timeouts.Attempt;
            error = outcome == AttemptOutcome.Timeout && scope.Timer is not null && !requestToken.IsCancellationRequested
                ? ExceptionDispatchInfo.Capture(new TaskCanceledException(
                    $"The attempt to {endpoint} for service '{state.ServiceName}' timed out after {attemptTimeout.TotalSeconds:0.###} s (Timeouts:Attempt).",
                    new TimeoutException(failure.Message, failure)))
                : ExceptionDispatchInfo.Capture(failure);
        }

        var latency = scope.Lease.Complete(outcome, response is null ? 0 : (int)response.StatusCode);
        state.Telemetry.OnAttemptCompleted(endpoint, outcome, latency);
        state.Detector?.OnAttemptCompleted(endpoint, outcome);
        if (outcome == AttemptOutcome.ConnectFailure)
        {
            state.OnConnectFailure(); // a polling resolver looks again now (rate-limited by the watch)
        }
        else if (outcome == AttemptOutcome.Success)
        {
            state.Latency?.Record(latency);
        }

        return new AttemptResult(endpoint, outcome, response, error);
    }

    /// <summary>What an attempt holds between its start and its end.</summary>
    private readonly record struct AttemptScope(MeshEndpoint Endpoint, EndpointLease Lease, CancellationTokenSource? Cts, ITimer? Timer,
        CancellationToken Token);

    /// <summary>
    /// A hedged attempt group: the first attempt, then after the hedging delay another on an endpoint not yet tried,
    /// up to <see cref="HedgingOptions.MaxAttempts"/> in flight. The first response that is not a retryable failure
    /// wins; the others are cancelled (counted as <see cref="AttemptOutcome.Canceled"/>) and their responses disposed.
    /// If every attempt fails, the last failure is returned for the retry loop to decide. Each attempt sends its own
    /// clone of the request (made before anything is sent), so no two sends share a request object.
    /// </summary>
    private async Task<(AttemptResult Result, TriedEndpoints Tried)> SendHedgedAsync(ServiceState state, HttpRequestMessage request, ulong? hash,
        Uri logicalUri, MeshEndpoint first, TriedEndpoints tried, CancellationToken callerToken, CancellationToken requestToken)
    {
        var hedging = state.Options.Hedging;
        var running = new List<(Task<AttemptResult> Task, CancellationTokenSource Cancel, HttpRequestMessage Request)>(hedging.MaxAttempts);
        using var delayCancel = CancellationTokenSource.CreateLinkedTokenSource(requestToken);
        int launched = 0;
        Task? delay = null;
        AttemptResult? lastFailure = null;

        void Launch(MeshEndpoint endpoint)
        {
            var clone = CloneWithoutContent(request);
            var cancel = new CancellationTokenSource();
            running.Add((SendAttemptAsync(state, clone, logicalUri, endpoint, tried.Count + 1, callerToken, requestToken, cancel.Token).AsTask(), cancel, clone));
            tried.Add(endpoint);
            launched++;
        }

        Launch(first);
        try
        {
            while (true)
            {
                if (delay is null && launched < hedging.MaxAttempts)
                {
                    delay = Task.Delay(HedgeDelay(state), _timeProvider, delayCancel.Token);
                }

                var tasks = new Task[running.Count + (delay is null ? 0 : 1)];
                for (int i = 0; i < running.Count; i++)
                {
                    tasks[i] = running[i].Task;
                }

                if (delay is not null)
                {
                    tasks[^1] = delay;
                }

                var completed = await Task.WhenAny(tasks).ConfigureAwait(false);
                if (completed == delay)
                {
                    delay = null;
                    if (requestToken.IsCancellationRequested)
                    {
                        continue; // the attempts see the same cancellation and end
                    }

                    var next = Pick(state, request, hash, ref tried);
                    if (next is not null && state.RetryBudget.TryWithdraw())
                    {
                        state.Telemetry.OnHedge(attempt: tried.Count + 1);
                        Launch(next);
                    }
                    else
                    {
                        if (next is not null)
                        {
                            state.Telemetry.OnRetryBudgetExhausted();
                        }

                        launched = hedging.MaxAttempts; // nowhere else to go, or no budget: stop hedging
                    }

                    continue;
                }

                int index = running.FindIndex(r => r.Task == completed);
                var attempt = running[index];
                running.RemoveAt(index);
                var result = await attempt.Task.ConfigureAwait(false);
                attempt.Cancel.Dispose();
                attempt.Request.RequestUri = logicalUri;

                bool failedRetryably = result.Outcome != AttemptOutcome.Success && result.Outcome != AttemptOutcome.Canceled && result.IsRetryable;
                if (!failedRetryably || running.Count == 0)
                {
                    if (result.Response is { } response)
                    {
                        response.RequestMessage = request;
                    }

                    lastFailure?.Discard();
                    return (result, tried);
                }

                lastFailure?.Discard();
                lastFailure = result;
            }
        }
        finally
        {
            delayCancel.Cancel();
            foreach (var (task, cancel, clone) in running)
            {
                // Losers: cancel, then release what they produce whenever they finish.
                cancel.Cancel();
                _ = task.ContinueWith(static (t, s) =>
                {
                    var (cts, message) = ((CancellationTokenSource, HttpRequestMessage))s!;
                    if (t.IsCompletedSuccessfully)
                    {
                        t.Result.Discard();
                    }

                    cts.Dispose();
                    message.Dispose();
                }, (cancel, clone), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
        }
    }

    private static TimeSpan HedgeDelay(ServiceState state)
    {
        var hedging = state.Options.Hedging;
        return hedging.DelayPercentile is { } p && state.Latency?.GetPercentile(p) is { } percentile ? percentile : hedging.Delay;
    }

    private static HttpRequestMessage CloneWithoutContent(HttpRequestMessage request)
    {
        var clone = new HttpRequestMessage(request.Method, request.RequestUri)
        {
            Version = request.Version,
            VersionPolicy = request.VersionPolicy,
        };

        foreach (var header in request.Headers)
        {
            clone.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }

        IDictionary<string, object?> options = clone.Options;
        foreach (var option in request.Options)
        {
            options[option.Key] = option.Value;
        }

        return clone;
    }

    /// <summary>
    /// Under <see cref="HostHeaderPolicy.LogicalName"/>, sets the Host header to the logical name unless the caller set
    /// one; returns whether it did, so the caller removes it again.
    /// </summary>
    private static bool SetLogicalHost(MeshServiceOptions options, HttpRequestMessage request, Uri logicalUri)
    {
        if (options.HostHeader != HostHeaderPolicy.LogicalName || request.Headers.Host is not null)
        {
            return false;
        }

        // For https, SocketsHttpHandler takes the TLS server name (SNI) and the name the certificate must carry from
        // the Host header, so the logical name is validated, not the endpoint's address.
        request.Headers.Host = logicalUri.IsDefaultPort ? logicalUri.Host : logicalUri.Authority;
        return true;
    }

    /// <summary>
    /// Picks an endpoint the request has not tried. An endpoint probing after an ejection takes one attempt at a time;
    /// when the balancer offers one whose probe is taken, the pick is repeated without it (at most twice).
    /// </summary>
    private static MeshEndpoint? Pick(ServiceState state, HttpRequestMessage request, ulong? hash, ref TriedEndpoints tried)
    {
        var endpoint = state.Balancer.Pick(new PickContext(request, hash, tried.AsSpan()));
        if (endpoint is null || endpoint.Health.TryBeginAttempt())
        {
            return endpoint;
        }

        var avoid = tried;
        for (int refusals = 0; refusals < 2 && avoid.Add(endpoint); refusals++)
        {
            var other = state.Balancer.Pick(new PickContext(request, hash, avoid.AsSpan()));
            if (other is null)
            {
                break;
            }

            endpoint = other;
            if (endpoint.Health.TryBeginAttempt())
            {
                break;
            }
        }

        return endpoint;
    }

    /// <summary>Fail fast: waits a bounded time for a routable endpoint (Linkerd's failfast), then throws.</summary>
    private static async Task<MeshEndpoint> WaitForEndpointAsync(ServiceState state, HttpRequestMessage request, ulong? hash,
        CancellationToken cancellationToken)
    {
        if (state.Endpoints.Count == 0)
        {
            // The resolver says the service has no endpoints: nothing to wait for, so fail at once.
            throw new NoEndpointsException(state.ServiceName, state.ResolverName, DescribeEmpty(state));
        }

        // Members exist but none is routable (all ejected or unhealthy, panic set to fail fast): one may come back soon.
        var wait = state.Options.Timeouts.WaitForEndpoint;
        if (wait > TimeSpan.Zero && await state.WaitForRoutableAsync(wait, cancellationToken).ConfigureAwait(false))
        {
            var none = new TriedEndpoints();
            if (Pick(state, request, hash, ref none) is { } endpoint)
            {
                return endpoint;
            }
        }

        var endpoints = state.Endpoints;
        string detail = endpoints.Count == 0
            ? DescribeEmpty(state)
            : $"none of its {endpoints.Count} endpoints is available (panic mode {state.Options.Panic.Mode})";
        if (wait > TimeSpan.Zero)
        {
            detail += $"; waited {wait.TotalSeconds:0.###} s (Timeouts:WaitForEndpoint)";
        }

        throw new NoEndpointsException(state.ServiceName, state.ResolverName, detail);
    }

    private static HttpResponseMessage Finish(ServiceState state, AttemptResult result)
    {
        _ = state;
        if (result.Response is { } response)
        {
            return response;
        }

        result.Error!.Throw();
        return null!;
    }

    private static TaskCanceledException TotalTimeout(ServiceState state, TimeSpan total) =>
        new($"The request to service '{state.ServiceName}' did not complete within {total.TotalSeconds:0.###} s (Timeouts:Total).",
            new TimeoutException($"Timeouts:Total of {total.TotalSeconds:0.###} s elapsed."));

    private TimeSpan Backoff(TimeSpan baseDelay, int retry)
    {
        _ = this;
        double jitter = 0.5 + Random.Shared.NextDouble(); // 50 % to 150 %, so clients that failed together do not retry together
        return TimeSpan.FromTicks((long)(baseDelay.Ticks * Math.Pow(2, Math.Min(retry, 10)) * jitter));
    }

    private ITimer CancelAfter(CancellationTokenSource source, TimeSpan delay) =>
        _timeProvider.CreateTimer(static s => ((CancellationTokenSource)s!).Cancel(), source, delay, Timeout.InfiniteTimeSpan);

    /// <summary>The endpoint's scheme and authority with the logical URI's path and query (already escaped).</summary>
    internal static Uri RewriteUri(Uri logicalUri, MeshEndpoint endpoint) =>
        new(string.Concat(endpoint.Scheme, Uri.SchemeDelimiter, endpoint.Authority, logicalUri.PathAndQuery), UriKind.Absolute);

    private static string DescribeEmpty(ServiceState state) =>
        state.LastError is { } error ? $"the resolver's last error: {error.Message}" : "the resolver published an empty set";
}
