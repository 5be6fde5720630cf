using System.Text.Json;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Mesh.Client.Kubernetes.Routes;

namespace Mesh.Client.Kubernetes.Api;

/// <summary>
/// The three calls the resolver makes, on the KubernetesClient package: read a Service, list a Service's
/// EndpointSlices one page at a time, and watch them. Error statuses become <see cref="KubernetesApiException"/>, whose
/// message names the operation and quotes the server's Status, never a credential.
/// </summary>
internal sealed class KubernetesApi : IDisposable
{
    private readonly k8s.Kubernetes _client;
    private readonly KubernetesCredentials.ExecPluginTokenProvider? _execPlugin;

    public KubernetesApi(KubernetesClientConfiguration configuration, string source)
    {
        Host = new Uri(configuration.Host);
        Source = source;
        _execPlugin = configuration.TokenProvider as KubernetesCredentials.ExecPluginTokenProvider;
        _client = new k8s.Kubernetes(configuration);
    }

    /// <summary>The API server answered 401: an exec plugin runs again for the next request (a token file is re-read anyway).</summary>
    public void CredentialsRejected() => _execPlugin?.Rejected();

    /// <summary>The API server.</summary>
    public Uri Host { get; }

    /// <summary>Where the credentials came from, for logs (<c>in-cluster service account</c>, <c>kubeconfig ...</c>).</summary>
    public string Source { get; }

    /// <summary><c>GET /api/v1/namespaces/{ns}/services/{name}</c>.</summary>
    public async Task<V1Service> ReadServiceAsync(string name, string ns, CancellationToken cancellationToken)
    {
        try
        {
            return await _client.CoreV1.ReadNamespacedServiceAsync(name, ns, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (HttpOperationException ex)
        {
            throw KubernetesApiException.From($"GET service '{name}' in namespace '{ns}'", ex);
        }
    }

    /// <summary>
    /// One page of <c>GET .../endpointslices?labelSelector=...&amp;limit=...</c>: the first page with
    /// <paramref name="resourceVersion"/> and <paramref name="resourceVersionMatch"/>, the next ones with
    /// <paramref name="continueToken"/> alone (the API refuses both together).
    /// </summary>
    public async Task<V1EndpointSliceList> ListSlicesAsync(string ns, string labelSelector, string? resourceVersion,
        string? resourceVersionMatch, int limit, string? continueToken, CancellationToken cancellationToken)
    {
        try
        {
            return await _client.DiscoveryV1.ListNamespacedEndpointSliceAsync(ns, continueParameter: continueToken, labelSelector: labelSelector,
                limit: limit, resourceVersion: continueToken is null ? resourceVersion : null,
                resourceVersionMatch: continueToken is null ? resourceVersionMatch : null, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (HttpOperationException ex)
        {
            throw KubernetesApiException.From($"LIST endpointslices '{labelSelector}' in namespace '{ns}'", ex);
        }
    }

    /// <summary>
    /// <c>GET ...endpointslices?watch=true&amp;resourceVersion=...&amp;allowWatchBookmarks=true&amp;timeoutSeconds=...</c>.
    /// A status error when the watch opens throws <see cref="HttpOperationException"/> from the enumeration (convert it
    /// with <see cref="KubernetesApiException.From(string, HttpOperationException)"/>); an <c>ERROR</c> event or an
    /// undecodable line goes to <paramref name="onError"/> and the enumeration goes on.
    /// </summary>
    public IAsyncEnumerable<(WatchEventType Type, V1EndpointSlice Slice)> WatchSlices(string ns, string labelSelector, string resourceVersion,
        int timeoutSeconds, Action<Exception> onError, CancellationToken cancellationToken) =>
        _client.DiscoveryV1.WatchListNamespacedEndpointSliceAsync(ns, allowWatchBookmarks: true, labelSelector: labelSelector,
            resourceVersion: resourceVersion, timeoutSeconds: timeoutSeconds, onError: onError, cancellationToken: cancellationToken);

    /// <summary>The HTTPRoute API: <c>gateway.networking.k8s.io/v1</c>, read through KubernetesClient's custom-objects calls (it has no Gateway API models).</summary>
    public const string GatewayGroup = "gateway.networking.k8s.io";

    /// <summary>One page of <c>GET /apis/gateway.networking.k8s.io/v1/namespaces/{ns}/httproutes</c>, paged as <see cref="ListSlicesAsync"/> is.</summary>
    public async Task<HttpRouteList> ListHttpRoutesAsync(string ns, string? resourceVersion, string? resourceVersionMatch, int limit,
        string? continueToken, CancellationToken cancellationToken)
    {
        try
        {
            var list = await _client.CustomObjects.ListNamespacedCustomObjectAsync<JsonElement>(GatewayGroup, "v1", ns, "httproutes",
                continueParameter: continueToken, limit: limit, resourceVersion: continueToken is null ? resourceVersion : null,
                resourceVersionMatch: continueToken is null ? resourceVersionMatch : null, cancellationToken: cancellationToken).ConfigureAwait(false);
            return list.Deserialize<HttpRouteList>(HttpRouteJson.Options) ?? throw new JsonException("The HTTPRoute list is empty.");
        }
        catch (HttpOperationException ex)
        {
            throw KubernetesApiException.From($"LIST httproutes in namespace '{ns}'", ex);
        }
    }

    /// <summary>
    /// <c>GET .../httproutes?watch=true&amp;resourceVersion=...&amp;allowWatchBookmarks=true&amp;timeoutSeconds=...</c>; errors
    /// as in <see cref="WatchSlices"/>. Each object arrives as raw JSON (a <see cref="JsonElement"/>).
    /// </summary>
    public IAsyncEnumerable<(WatchEventType Type, object Object)> WatchHttpRoutes(string ns, string resourceVersion, int timeoutSeconds,
        Action<Exception> onError, CancellationToken cancellationToken) =>
        _client.CustomObjects.WatchListNamespacedCustomObjectAsync(GatewayGroup, "v1", ns, "httproutes", allowWatchBookmarks: true,
            resourceVersion: resourceVersion, timeoutSeconds: timeoutSeconds, onError: onError, cancellationToken: cancellationToken);

    public void Dispose() => _client.Dispose();
}
