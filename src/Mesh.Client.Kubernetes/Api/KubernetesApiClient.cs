using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

namespace Mesh.Client.Kubernetes.Api;

/// <summary>
/// A small client for the three calls the resolver makes: read a Service, list a Service's EndpointSlices, and watch
/// them. HTTP/1.1 over <see cref="HttpClient"/>, JSON through <see cref="KubernetesJsonContext"/>. Method names follow
/// the KubernetesClient package (<c>ReadNamespacedServiceAsync</c>, <c>ListNamespacedEndpointSliceAsync</c>), so that
/// package could replace this folder.
/// </summary>
internal sealed class KubernetesApiClient : IDisposable
{
    private const int MaxErrorBodyBytes = 64 * 1024;
    private readonly HttpClient _http;
    private readonly KubernetesClientConfiguration _configuration;

    public KubernetesApiClient(KubernetesClientConfiguration configuration)
        : this(configuration, CreateHandler(configuration))
    {
    }

    internal KubernetesApiClient(KubernetesClientConfiguration configuration, HttpMessageHandler handler)
    {
        _configuration = configuration;
        _http = new HttpClient(handler, disposeHandler: true)
        {
            BaseAddress = configuration.Host,
            Timeout = Timeout.InfiniteTimeSpan, // callers bound each call; a watch is long by design
            DefaultRequestVersion = HttpVersion.Version11,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
    }

    public KubernetesClientConfiguration Configuration => _configuration;

    /// <summary><c>GET /api/v1/namespaces/{ns}/services/{name}</c>.</summary>
    public async Task<V1Service> ReadNamespacedServiceAsync(string name, string ns, CancellationToken cancellationToken)
    {
        var path = $"api/v1/namespaces/{Uri.EscapeDataString(ns)}/services/{Uri.EscapeDataString(name)}";
        using var response = await SendAsync(path, HttpCompletionOption.ResponseContentRead, $"GET service '{name}' in namespace '{ns}'", cancellationToken).ConfigureAwait(false);
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            return await JsonSerializer.DeserializeAsync(stream, KubernetesJsonContext.Default.V1Service, cancellationToken).ConfigureAwait(false)
                ?? throw new JsonException("The service is null.");
        }
    }

    /// <summary><c>GET /apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices?labelSelector=...</c>.</summary>
    public async Task<V1EndpointSliceList> ListNamespacedEndpointSliceAsync(string ns, string labelSelector, CancellationToken cancellationToken)
    {
        var path = $"{SlicesPath(ns)}?labelSelector={Uri.EscapeDataString(labelSelector)}";
        using var response = await SendAsync(path, HttpCompletionOption.ResponseContentRead, $"LIST endpointslices '{labelSelector}' in namespace '{ns}'", cancellationToken).ConfigureAwait(false);
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            return await JsonSerializer.DeserializeAsync(stream, KubernetesJsonContext.Default.V1EndpointSliceList, cancellationToken).ConfigureAwait(false)
                ?? throw new JsonException("The list is null.");
        }
    }

    /// <summary>
    /// <c>GET ...endpointslices?labelSelector=...&amp;watch=true&amp;resourceVersion=...&amp;allowWatchBookmarks=true&amp;timeoutSeconds=...</c>:
    /// opens the stream; read its events with <see cref="WatchStream.ReadAsync"/>. A status error (410 Gone included)
    /// throws <see cref="KubernetesApiException"/> here.
    /// </summary>
    public async Task<WatchStream> WatchNamespacedEndpointSliceAsync(string ns, string labelSelector, string resourceVersion,
        int timeoutSeconds, CancellationToken cancellationToken)
    {
        var path = string.Create(CultureInfo.InvariantCulture,
            $"{SlicesPath(ns)}?labelSelector={Uri.EscapeDataString(labelSelector)}&watch=true&resourceVersion={Uri.EscapeDataString(resourceVersion)}&allowWatchBookmarks=true&timeoutSeconds={timeoutSeconds}");
        var response = await SendAsync(path, HttpCompletionOption.ResponseHeadersRead, $"WATCH endpointslices '{labelSelector}' in namespace '{ns}'", cancellationToken).ConfigureAwait(false);
        try
        {
            var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            return new WatchStream(response, stream);
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    private static string SlicesPath(string ns) => $"apis/discovery.k8s.io/v1/namespaces/{Uri.EscapeDataString(ns)}/endpointslices";

    private async Task<HttpResponseMessage> SendAsync(string path, HttpCompletionOption completion, string operation, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (_configuration.GetAccessToken() is { } token)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        var response = await _http.SendAsync(request, completion, cancellationToken).ConfigureAwait(false);
        if (response.IsSuccessStatusCode)
        {
            return response;
        }

        using (response)
        {
            throw new KubernetesApiException(operation, response.StatusCode, await ReadStatusAsync(response, cancellationToken).ConfigureAwait(false));
        }
    }

    private static async Task<V1Status?> ReadStatusAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                var buffer = new byte[MaxErrorBodyBytes];
                int read = 0;
                int n;
                while (read < buffer.Length && (n = await stream.ReadAsync(buffer.AsMemory(read), cancellationToken).ConfigureAwait(false)) > 0)
                {
                    read += n;
                }

                return JsonSerializer.Deserialize(buffer.AsSpan(0, read), KubernetesJsonContext.Default.V1Status);
            }
        }
        catch (Exception ex) when (ex is JsonException or IOException or HttpRequestException)
        {
            return null; // not a Status body (a proxy's HTML page, say): the status code alone describes the failure
        }
    }

    internal static SocketsHttpHandler CreateHandler(KubernetesClientConfiguration configuration)
    {
        var ssl = new SslClientAuthenticationOptions { TargetHost = configuration.TlsServerName };
        if (configuration.SkipTlsVerify)
        {
            // kubeconfig's insecure-skip-tls-verify: the user turned verification off for this cluster, knowingly.
#pragma warning disable CA5359
            ssl.RemoteCertificateValidationCallback = static (_, _, _, _) => true;
#pragma warning restore CA5359
        }
        else if (configuration.CaCertificates.Count > 0)
        {
            // The server's certificate must chain to the cluster CA (and still match the host name).
            var policy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
            };
            policy.CustomTrustStore.AddRange(configuration.CaCertificates);
            ssl.CertificateChainPolicy = policy;
        }

        if (configuration.ClientCertificate is { } clientCertificate)
        {
            ssl.ClientCertificates = [clientCertificate];
        }

        return new SocketsHttpHandler
        {
            SslOptions = ssl,
            ConnectTimeout = TimeSpan.FromSeconds(10),
            PooledConnectionLifetime = TimeSpan.FromMinutes(10),
            AutomaticDecompression = DecompressionMethods.None,
            UseProxy = false,
        };
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>One decoded line of a watch stream.</summary>
/// <param name="Type">ADDED, MODIFIED, DELETED, BOOKMARK or ERROR; null when the line could not be decoded.</param>
/// <param name="Slice">The slice, for every type but ERROR.</param>
/// <param name="Status">The status, for ERROR.</param>
/// <param name="DecodeError">Why the line could not be decoded (no content is quoted).</param>
internal readonly record struct WatchEvent(string? Type, V1EndpointSlice? Slice, V1Status? Status, string? DecodeError);

/// <summary>
/// The body of a watch: one JSON event per line. Reads whole lines only: a stream that ends inside an event throws
/// <see cref="IOException"/> rather than decoding half an object.
/// </summary>
internal sealed class WatchStream : IDisposable
{
    private readonly HttpResponseMessage _response;
    private readonly Stream _stream;
    private byte[] _buffer = new byte[16 * 1024];
    private int _start;
    private int _end;

    internal WatchStream(HttpResponseMessage response, Stream stream)
    {
        _response = response;
        _stream = stream;
    }

    internal WatchStream(Stream stream)
        : this(new HttpResponseMessage(), stream)
    {
    }

    /// <summary>The next event, or null when the server ended the stream cleanly.</summary>
    /// <exception cref="IOException">The stream broke, or ended in the middle of an event.</exception>
    public async ValueTask<WatchEvent?> ReadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            int newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            if (newline >= 0)
            {
                var line = _buffer.AsMemory(_start, newline - _start);
                _start = newline + 1;
                if (line.Span.Trim((byte)'\r').IsEmpty)
                {
                    continue;
                }

                return Decode(line.Span);
            }

            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }

            if (_end == _buffer.Length)
            {
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }

            int read = await _stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return _end == _start || _buffer.AsSpan(_start, _end - _start).Trim("\r\n "u8).IsEmpty
                    ? null
                    : throw new IOException($"The watch stream ended in the middle of an event ({_end - _start} bytes without an end of line).");
            }

            _end += read;
        }
    }

    internal static WatchEvent Decode(ReadOnlySpan<byte> line)
    {
        try
        {
            var envelope = JsonSerializer.Deserialize(line, KubernetesJsonContext.Default.WatchEventEnvelope);
            if (envelope?.Type is not { } type || envelope.Object.ValueKind != JsonValueKind.Object)
            {
                return new WatchEvent(null, null, null, "the event has no type or no object");
            }

            if (type == WatchEventType.Error)
            {
                return new WatchEvent(type, null, envelope.Object.Deserialize(KubernetesJsonContext.Default.V1Status), null);
            }

            if (type is not (WatchEventType.Added or WatchEventType.Modified or WatchEventType.Deleted or WatchEventType.Bookmark))
            {
                return new WatchEvent(null, null, null, $"unknown event type '{Truncate(type)}'");
            }

            var slice = envelope.Object.Deserialize(KubernetesJsonContext.Default.V1EndpointSlice);
            if (slice?.Metadata?.ResourceVersion is null || (type != WatchEventType.Bookmark && string.IsNullOrEmpty(slice.Metadata.Name)))
            {
                return new WatchEvent(null, null, null, $"a {type} event without metadata.name or metadata.resourceVersion");
            }

            return new WatchEvent(type, slice, null, null);
        }
        catch (JsonException ex)
        {
            return new WatchEvent(null, null, null, $"invalid JSON at byte {ex.BytePositionInLine}: {ex.GetType().Name}");
        }
    }

    private static string Truncate(string value) => value.Length <= 32 ? value : value[..32] + "...";

    public void Dispose()
    {
        _stream.Dispose();
        _response.Dispose();
    }
}
