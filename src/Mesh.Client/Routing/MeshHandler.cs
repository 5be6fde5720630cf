using Mesh.Client.Diagnostics;
using Mesh.Client.Resilience;
using Mesh.Client.Routing.Routes;

namespace Mesh.Client.Routing;

/// <summary>
/// The mesh's place in an <see cref="HttpClient"/> pipeline: sends each request for a logical service
/// (<c>http://catalog/items</c>) to one of the service's endpoints, picked by its balancer.
/// </summary>
/// <remarks>
/// <para>Per request: the URI's host names the service; the service's current snapshot is read (the first request waits
/// for the first resolution, bounded by <see cref="MeshServiceOptions.ResolutionTimeout"/>; a service with no routable
/// endpoint waits up to <see cref="TimeoutOptions.WaitForEndpoint"/>, then fails); the balancer picks; the request URI's
/// scheme, host and port are rewritten to the endpoint's (path, query, headers and body unchanged); the attempt is sent,
/// timed and accounted; and <see cref="HttpRequestMessage.RequestUri"/> is restored. Retries, hedges and timeouts are the
/// service's Polly pipeline (<see cref="ServicePipeline"/>).</para>
/// <para>The first attempt of a service without hedging, timeouts or added attempt strategies is sent outside the pipeline
/// (<see cref="FirstAttempt"/>, a pooled continuation), so the common case costs what a single send costs; the pipeline
/// runs only when it fails.</para>
/// <para>Handlers are created by <c>IHttpClientFactory</c> and rotated with its handler lifetime; all state lives in the
/// registry, so rotation loses nothing.</para>
/// </remarks>
internal sealed class MeshHandler : DelegatingHandler
{
    private readonly ClientServices _services;
    private readonly TimeProvider _timeProvider;
    private readonly Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> _sendInner;

    public MeshHandler(ClientServices services)
    {
        _services = services;
        _timeProvider = services.Registry.TimeProvider;
        _sendInner = SendInner;
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

        return state.IsReady
            ? SendToServiceAsync(state, request, uri, cancellationToken)
            : SendWhenReadyAsync(state, request, uri, cancellationToken);
    }

    private async Task<HttpResponseMessage> SendWhenReadyAsync(ServiceState state, HttpRequestMessage request, Uri uri,
        CancellationToken cancellationToken)
    {
        var timeout = state.Options.ResolutionTimeout;
        try
        {
            await state.Ready.WaitAsync(timeout, _timeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw state.IsResolved
                ? new ResolutionTimeoutException(state.ServiceName, $"{state.RouteSourceName} (routes)", timeout, state.RouteError)
                : new ResolutionTimeoutException(state.ServiceName, state.ResolverName, timeout, state.LastError);
        }

        return await SendToServiceAsync(state, request, uri, cancellationToken).ConfigureAwait(false);
    }

    private Task<HttpResponseMessage> SendToServiceAsync(ServiceState state, HttpRequestMessage request, Uri logicalUri,
        CancellationToken cancellationToken)
    {
        var policies = state.Policies; // one read: a reload during this request does not change its rules
        if (policies.Routes is { } routes && routes.Match(request) is { } route)
        {
            return SendThroughRouteAsync(policies, routes, route, request, logicalUri, cancellationToken);
        }

        return SendToBackendAsync(state, policies, state, request, logicalUri, cancellationToken);
    }

    /// <summary>
    /// Step 3 of the request path: the route picked a backend service by weight; the request continues there, under the
    /// backend's balancer and health and the route's timeouts and retries. The request URI keeps the logical service's host.
    /// </summary>
    private Task<HttpResponseMessage> SendThroughRouteAsync(ServicePolicies policies, RouteTable routes, CompiledRoute route,
        HttpRequestMessage request, Uri logicalUri, CancellationToken cancellationToken)
    {
        ulong? stickyHash = route.Source.Sticky ? routes.StickyHasher!.Compute(request) : null;
        var backend = route.Pick(_services, logicalUri.Scheme, stickyHash);
        var target = backend.State;
        MeshTracing.TagRoute(route.Name);
        var (targetPolicies, host) = backend.PoliciesFor(target, route);
        return target.IsResolved
            ? SendToBackendAsync(target, targetPolicies, host, request, logicalUri, cancellationToken)
            : SendToBackendAfterFirstResolutionAsync(target, backend, route, request, logicalUri, cancellationToken);
    }

    private async Task<HttpResponseMessage> SendToBackendAfterFirstResolutionAsync(ServiceState target, RouteBackend backend, CompiledRoute route,
        HttpRequestMessage request, Uri logicalUri, CancellationToken cancellationToken)
    {
        var timeout = target.Options.ResolutionTimeout;
        try
        {
            await target.FirstResolution.WaitAsync(timeout, _timeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new ResolutionTimeoutException(target.ServiceName, target.ResolverName, timeout, target.LastError);
        }

        var (policies, host) = backend.PoliciesFor(target, route);
        return await SendToBackendAsync(target, policies, host, request, logicalUri, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Steps 4 to 11 on <paramref name="state"/>'s endpoints, under <paramref name="policies"/>, accounting through <paramref name="host"/>.</summary>
    private Task<HttpResponseMessage> SendToBackendAsync(ServiceState state, ServicePolicies policies, IAttemptHost host, HttpRequestMessage request,
        Uri logicalUri, CancellationToken cancellationToken)
    {
        // Hash-based balancers place the request by its hash: computed once, the same for every attempt of it.
        ulong? hash = policies.RequestHasher?.Compute(request);
        var endpoint = state.Pick(request, hash, default);
        var retry = policies.Options.Retry;
        // Content that cannot be replayed is buffered before the first attempt when the request may be retried; a request
        // that may not (a POST) is sent directly, and only a failure before it left the client is retried (transparently).
        if (endpoint is not null && !policies.Pipeline.SendsFirstAttempt
            && (RetryPolicy.IsReplayable(request.Content) || !retry.Enabled || retry.MaxAttempts <= 1 || !RetryPolicy.MethodAllows(request)))
        {
            return FirstAttempt.Send(this, _timeProvider, state, policies, host, request, logicalUri, endpoint, hash, cancellationToken);
        }

        return SendThroughPipelineAsync(state, policies, host, request, logicalUri, hash, endpoint, first: null, cancellationToken);
    }

    /// <summary>
    /// Sends through the service's pipeline: waiting for an endpoint if none was routable, buffering content so it can be
    /// sent again, then retries, hedges and timeouts as the options say. <paramref name="first"/> is the first attempt,
    /// already sent and accounted outside the pipeline (and the budget already credited for this request), if any.
    /// </summary>
    internal async Task<HttpResponseMessage> SendThroughPipelineAsync(ServiceState state, ServicePolicies policies, IAttemptHost host, HttpRequestMessage request,
        Uri logicalUri, ulong? hash, MeshEndpoint? endpoint, AttemptRecord? first, CancellationToken cancellationToken)
    {
        var options = policies.Options;
        endpoint ??= await WaitForEndpointAsync(state, request, hash, cancellationToken).ConfigureAwait(false);
        if (first is null)
        {
            policies.RetryBudget.Deposit();
        }

        var attempts = new RequestAttempts(host, request, logicalUri, hash, _sendInner, cancellationToken);
        attempts.MarkTried(endpoint);
        if (first is not null)
        {
            attempts.SetPending(first);
        }
        else
        {
            attempts.Plan(endpoint);
        }

        var retry = options.Retry;
        bool mayRepeat = (retry.Enabled && retry.MaxAttempts > 1) || options.Hedging.Enabled;
        attempts.Replayable = RetryPolicy.IsReplayable(request.Content)
            || (mayRepeat && await RetryPolicy.PrepareContentAsync(request, retry, cancellationToken).ConfigureAwait(false));
        if (options.Hedging.Enabled && attempts.Replayable && RetryPolicy.MethodAllows(request))
        {
            attempts.CanHedge = true;
            if (request.Content is { } content)
            {
                attempts.Body = await content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        bool setHost = SetLogicalHost(options, request, logicalUri);
        try
        {
            return await policies.Pipeline.ExecuteAsync(attempts).ConfigureAwait(false);
        }
        finally
        {
            if (setHost)
            {
                request.Headers.Host = null;
            }
        }
    }

    /// <summary>
    /// Under <see cref="HostHeaderPolicy.LogicalName"/>, sets the Host header to the logical name unless the caller set
    /// one; returns whether it did, so the caller removes it again.
    /// </summary>
    internal static bool SetLogicalHost(MeshServiceOptions options, HttpRequestMessage request, Uri logicalUri)
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

    /// <summary>The next handler's send: the first attempt's (<see cref="FirstAttempt"/>) and each attempt the pipeline makes.</summary>
    internal Task<HttpResponseMessage> SendInner(HttpRequestMessage request, CancellationToken cancellationToken) =>
        base.SendAsync(request, cancellationToken);

    /// <summary>Fail fast: waits a bounded time for a routable endpoint (Linkerd's failfast), then throws.</summary>
    private static async Task<MeshEndpoint> WaitForEndpointAsync(ServiceState state, HttpRequestMessage request, ulong? hash,
        CancellationToken cancellationToken)
    {
        if (state.Endpoints.Count == 0)
        {
            // The resolver says the service has no endpoints, or does not exist: nothing to wait for, so fail at once.
            if (state.LastError is ServiceNotFoundException notFound)
            {
                throw new ServiceNotFoundException(state.ServiceName, state.ResolverName, notFound.Message, notFound);
            }

            throw new NoEndpointsException(state.ServiceName, state.ResolverName, DescribeEmpty(state));
        }

        // Members exist but none is routable (all ejected or unhealthy, panic set to fail fast): one may come back soon.
        var wait = state.Options.Timeouts.WaitForEndpoint;
        if (wait > TimeSpan.Zero && await state.WaitForRoutableAsync(wait, cancellationToken).ConfigureAwait(false)
            && state.Pick(request, hash, default) is { } endpoint)
        {
            return endpoint;
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

    private static string DescribeEmpty(ServiceState state) =>
        state.LastError is { } error ? $"the resolver's last error: {error.Message}" : "the resolver published an empty set";
}
