using Mesh.Client.Balancing;
using Mesh.Client.Discovery;
using Mesh.Client.Options;

namespace Mesh.Client.Routing;

/// <summary>
/// The mesh's place in an <see cref="HttpClient"/> pipeline: sends each request for a logical service
/// (<c>http://catalog/items</c>) to one of the service's endpoints, picked by its balancer.
/// </summary>
/// <remarks>
/// <para>Per request: the URI's host names the service; the service's current snapshot is read (the first request waits
/// for the first resolution, bounded by <see cref="MeshServiceOptions.ResolutionTimeout"/>); the balancer picks; the
/// request URI's scheme, host and port are rewritten to the endpoint's (path, query, headers and body unchanged); the
/// attempt is sent, timed and accounted; and <see cref="HttpRequestMessage.RequestUri"/> is restored.</para>
/// <para>Latency is measured from the send to the response headers, the point at which this handler gets the response
/// back; body transfer is not included.</para>
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

    private async Task<HttpResponseMessage> SendToServiceAsync(ServiceState state, HttpRequestMessage request, Uri logicalUri,
        CancellationToken cancellationToken)
    {
        var endpoints = state.Endpoints;
        if (endpoints.Count == 0)
        {
            throw new NoEndpointsException(state.ServiceName, state.ResolverName, DescribeEmpty(state));
        }

        var endpoint = state.Balancer.Pick(new PickContext(request, state.RequestHasher?.Compute(request)))
            ?? throw new NoEndpointsException(state.ServiceName, state.ResolverName, "no endpoint is routable");

        bool setHost = state.Options.HostHeader == HostHeaderPolicy.LogicalName && request.Headers.Host is null;
        request.RequestUri = RewriteUri(logicalUri, endpoint);
        if (setHost)
        {
            // For https, SocketsHttpHandler takes the TLS server name (SNI) and the name the certificate must carry
            // from the Host header, so the logical name is validated, not the endpoint's address.
            request.Headers.Host = logicalUri.IsDefaultPort ? logicalUri.Host : logicalUri.Authority;
        }

        var lease = endpoint.Begin(_timeProvider);
        try
        {
            var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
            lease.Complete(AttemptClassifier.Classify(response), (int)response.StatusCode);
            return response;
        }
        catch (Exception ex)
        {
            var outcome = AttemptClassifier.Classify(ex, cancellationToken);
            lease.Complete(outcome);
            if (outcome == AttemptOutcome.ConnectFailure)
            {
                state.OnConnectFailure(); // a polling resolver looks again now (rate-limited by the watch)
            }

            throw;
        }
        finally
        {
            request.RequestUri = logicalUri;
            if (setHost)
            {
                request.Headers.Host = null;
            }
        }
    }

    /// <summary>The endpoint's scheme and authority with the logical URI's path and query (already escaped).</summary>
    internal static Uri RewriteUri(Uri logicalUri, Endpoint endpoint) =>
        new(string.Concat(endpoint.Scheme, Uri.SchemeDelimiter, endpoint.Authority, logicalUri.PathAndQuery), UriKind.Absolute);

    private static string? DescribeEmpty(ServiceState state) =>
        state.LastError is { } error ? $"the resolver's last error: {error.Message}" : "the resolver published an empty set";
}
