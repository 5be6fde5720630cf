using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Logging;

namespace Mesh.Client.Kubernetes.Tests.Infrastructure;

/// <summary>One endpoint of a slice, as a test describes it.</summary>
public sealed record FakeEndpoint(string Ip, bool? Ready = true, bool? Serving = null, bool? Terminating = null,
    string? Zone = null, string? Node = null, string[]? HintZones = null, string? Pod = null);

/// <summary>The query of one LIST of EndpointSlices.</summary>
public sealed record ListRequest(string? ResourceVersion, string? ResourceVersionMatch, int? Limit, string? Continue);

/// <summary>How a watch from a resourceVersion the server no longer has is refused.</summary>
public enum GoneMode
{
    /// <summary>HTTP 410 with a Status body.</summary>
    Status,

    /// <summary>HTTP 200, then an ERROR event carrying a 410 Status (what a real API server does for a watch).</summary>
    InStream,
}

/// <summary>
/// A stand-in Kubernetes API server: real Kestrel on 127.0.0.1 over HTTPS with a certificate from a test CA, speaking
/// the protocol the resolver uses: GET a Service, LIST EndpointSlices by label selector with a resourceVersion, and
/// WATCH them as a chunked stream of JSON lines (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR). Bearer tokens are checked
/// (401 with a Status otherwise), and so are client certificates signed by the test CA. Faults on demand: 410 Gone as
/// a status or in-stream, a stream cut in the middle of an event, a slow stream, a malformed event, a restart.
/// </summary>
public sealed partial class FakeKubernetesApiServer : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<(string Ns, string Name), JsonObject> _services = [];
    private readonly Dictionary<(string Ns, string Name), JsonObject> _slices = [];
    private readonly List<(long Rv, string Type, JsonObject Object)> _history = [];
    private readonly List<Watcher> _watchers = [];
    private readonly X509Certificate2 _serverCertificate;
    private WebApplication? _app;
    private long _resourceVersion = 1000;
    private long _oldestWatchable;

    private FakeKubernetesApiServer(X509Certificate2 serverCertificate)
    {
        _serverCertificate = serverCertificate;
    }

    public int Port { get; private set; }

    public Uri Address => new($"https://127.0.0.1:{Port}");

    /// <summary>Bearer tokens the server accepts.</summary>
    public ConcurrentDictionary<string, bool> ValidTokens { get; } = new(StringComparer.Ordinal);

    /// <summary>Whether a client certificate signed by the test CA authenticates (kubeconfig client-certificate auth).</summary>
    public bool AcceptClientCertificates { get; set; } = true;

    public GoneMode GoneMode { get; set; } = GoneMode.Status;

    /// <summary>Writes each watch event in small pieces, flushing between them, with pauses: a slow network.</summary>
    public bool SlowStream { get; set; }

    /// <summary>Answers every request with 503, as an API server that is up but not serving.</summary>
    public bool Unavailable { get; set; }

    /// <summary>Answers GET of a Service with 403, as for a Role without <c>get</c> on <c>services</c>.</summary>
    public bool ForbidServices { get; set; }

    /// <summary>The query of every LIST (not WATCH) of EndpointSlices, in order.</summary>
    public ConcurrentQueue<ListRequest> ListRequests { get; } = new();

    /// <summary>Pulsed on every request and whenever a watch opens or closes.</summary>
    public AsyncSignal Changed { get; } = new();

    public int ServiceReads => Volatile.Read(ref _serviceReads);

    public int Lists => Volatile.Read(ref _lists);

    public int Watches => Volatile.Read(ref _watches);

    /// <summary>The watches now open.</summary>
    public int OpenWatches
    {
        get
        {
            lock (_lock)
            {
                return _watchers.Count;
            }
        }
    }

    /// <summary>The resourceVersion each watch asked to start from, in order.</summary>
    public ConcurrentQueue<string> WatchResourceVersions { get; } = new();

    /// <summary>The bearer token of every request, in order (null when none was sent).</summary>
    public ConcurrentQueue<string?> TokensSeen { get; } = new();

    /// <summary>The subject of every client certificate that authenticated.</summary>
    public ConcurrentQueue<string> ClientCertificatesSeen { get; } = new();

    /// <summary>How many requests were answered 503 because of <see cref="Unavailable"/>.</summary>
    public int UnavailableAnswers => Volatile.Read(ref _unavailableAnswers);

    private int _unavailableAnswers;
    private int _serviceReads;
    private int _lists;
    private int _watches;

    public static async Task<FakeKubernetesApiServer> StartAsync(X509Certificate2? serverCertificate = null)
    {
        var server = new FakeKubernetesApiServer(serverCertificate ?? TestCertificates.Shared.Server);
        await server.StartOnAsync(0);
        return server;
    }

    private async Task StartOnAsync(int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, port, listen =>
        {
            listen.Protocols = HttpProtocols.Http1;
            listen.UseHttps(https =>
            {
                https.ServerCertificate = _serverCertificate;
                https.ClientCertificateMode = ClientCertificateMode.AllowCertificate;
                https.ClientCertificateValidation = (_, _, _) => true; // checked per request against the test CA
            });
        }));
        var app = builder.Build();
        app.Run(HandleAsync);
        await app.StartAsync();
        _app = app;
        Port = new Uri(app.Urls.First()).Port;
    }

    /// <summary>Stops the server (open watches are cut) and starts it again on the same port, keeping its objects.</summary>
    public async Task RestartAsync(bool forgetHistory = false)
    {
        var app = _app!;
        lock (_lock)
        {
            foreach (var watcher in _watchers.Concat(_routeWatchers))
            {
                watcher.Abort();
            }

            if (forgetHistory)
            {
                _oldestWatchable = _resourceVersion + 1;
            }
        }

        await app.StopAsync();
        await app.DisposeAsync();
        await StartOnAsync(Port);
    }

    public void AddService(string ns, string name, IEnumerable<(string? Name, int Port)>? ports = null, string[]? ipFamilies = null)
    {
        var portArray = new JsonArray();
        foreach (var (portName, number) in ports ?? [("http", 80)])
        {
            var port = new JsonObject { ["port"] = number, ["protocol"] = "TCP", ["targetPort"] = number };
            if (portName is not null)
            {
                port["name"] = portName;
            }

            portArray.Add(port);
        }

        var service = new JsonObject
        {
            ["kind"] = "Service",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns, ["resourceVersion"] = Next().ToString(CultureInfo.InvariantCulture) },
            ["spec"] = new JsonObject
            {
                ["type"] = "ClusterIP",
                ["clusterIP"] = "10.96.12.34",
                ["ports"] = portArray,
                ["ipFamilies"] = new JsonArray((ipFamilies ?? ["IPv4"]).Select(f => (JsonNode?)JsonValue.Create(f)).ToArray()),
            },
        };
        lock (_lock)
        {
            _services[(ns, name)] = service;
        }
    }

    /// <summary>Creates or replaces a slice (an ADDED or MODIFIED event for watchers); returns its resourceVersion.</summary>
    public long SetSlice(string ns, string service, string sliceName, IEnumerable<FakeEndpoint> endpoints,
        IEnumerable<(string? Name, int Port)>? ports = null, string addressType = "IPv4")
    {
        var endpointArray = new JsonArray();
        foreach (var e in endpoints)
        {
            var conditions = new JsonObject();
            if (e.Ready is { } ready)
            {
                conditions["ready"] = ready;
            }

            if (e.Serving is { } serving)
            {
                conditions["serving"] = serving;
            }

            if (e.Terminating is { } terminating)
            {
                conditions["terminating"] = terminating;
            }

            var endpoint = new JsonObject
            {
                ["addresses"] = new JsonArray(e.Ip),
                ["conditions"] = conditions,
                ["targetRef"] = new JsonObject { ["kind"] = "Pod", ["namespace"] = ns, ["name"] = e.Pod ?? $"{service}-{e.Ip.Replace('.', '-').Replace(':', '-')}", ["uid"] = Guid.NewGuid().ToString() },
            };
            if (e.Node is not null)
            {
                endpoint["nodeName"] = e.Node;
            }

            if (e.Zone is not null)
            {
                endpoint["zone"] = e.Zone;
            }

            if (e.HintZones is not null)
            {
                endpoint["hints"] = new JsonObject { ["forZones"] = new JsonArray(e.HintZones.Select(z => (JsonNode?)new JsonObject { ["name"] = z }).ToArray()) };
            }

            endpointArray.Add(endpoint);
        }

        var portArray = new JsonArray();
        foreach (var (name, number) in ports ?? [("http", 8080)])
        {
            var port = new JsonObject { ["port"] = number, ["protocol"] = "TCP" };
            if (name is not null)
            {
                port["name"] = name;
            }

            portArray.Add(port);
        }

        lock (_lock)
        {
            var rv = Next();
            bool exists = _slices.ContainsKey((ns, sliceName));
            var slice = new JsonObject
            {
                ["kind"] = "EndpointSlice",
                ["apiVersion"] = "discovery.k8s.io/v1",
                ["metadata"] = new JsonObject
                {
                    ["name"] = sliceName,
                    ["namespace"] = ns,
                    ["generateName"] = service + "-",
                    ["resourceVersion"] = rv.ToString(CultureInfo.InvariantCulture),
                    ["labels"] = new JsonObject
                    {
                        ["kubernetes.io/service-name"] = service,
                        ["endpointslice.kubernetes.io/managed-by"] = "endpointslice-controller.k8s.io",
                    },
                },
                ["addressType"] = addressType,
                ["endpoints"] = endpointArray,
                ["ports"] = portArray,
            };
            _slices[(ns, sliceName)] = slice;
            Emit(rv, exists ? "MODIFIED" : "ADDED", slice);
            return rv;
        }
    }

    public void DeleteSlice(string ns, string sliceName)
    {
        lock (_lock)
        {
            if (_slices.Remove((ns, sliceName), out var slice))
            {
                var rv = Next();
                var deleted = (JsonObject)slice.DeepClone();
                deleted["metadata"]!["resourceVersion"] = rv.ToString(CultureInfo.InvariantCulture);
                Emit(rv, "DELETED", deleted);
            }
        }
    }

    /// <summary>Sends a BOOKMARK (the current resourceVersion) to every open watch.</summary>
    public long Bookmark()
    {
        lock (_lock)
        {
            var rv = Next();
            var bookmark = new JsonObject
            {
                ["kind"] = "EndpointSlice",
                ["apiVersion"] = "discovery.k8s.io/v1",
                ["metadata"] = new JsonObject { ["resourceVersion"] = rv.ToString(CultureInfo.InvariantCulture), ["annotations"] = new JsonObject { ["k8s.io/initial-events-end"] = "false" } },
                ["addressType"] = "",
                ["endpoints"] = null,
            };
            foreach (var watcher in _watchers)
            {
                watcher.Send(Line("BOOKMARK", bookmark));
            }

            return rv;
        }
    }

    /// <summary>Forgets the history: a watch from any resourceVersion seen so far is answered 410 Gone.</summary>
    public void Compact()
    {
        lock (_lock)
        {
            _oldestWatchable = _resourceVersion + 1;
        }
    }

    /// <summary>Ends every open watch cleanly, as a server does when a watch's timeout is reached.</summary>
    public void CloseWatches()
    {
        lock (_lock)
        {
            foreach (var watcher in _watchers)
            {
                watcher.Complete();
            }
        }
    }

    /// <summary>Every open watch writes half of its next event and then drops the connection.</summary>
    public void CutWatchesAtNextEvent()
    {
        lock (_lock)
        {
            foreach (var watcher in _watchers)
            {
                watcher.CutAtNextEvent = true;
            }
        }
    }

    /// <summary>Sends a line that is not a valid event to every open watch.</summary>
    public void SendMalformed(string line = """{"type":"MODIFIED","object":{"metadata":{"name":"x","resourceVersion":"1"},"endpoints":[{"addresses":[""")
    {
        lock (_lock)
        {
            foreach (var watcher in _watchers)
            {
                watcher.Send(line + "\n");
            }
        }
    }

    /// <summary>Sends an ERROR event with <paramref name="code"/> to every open watch.</summary>
    public void SendError(int code, string reason, string message)
    {
        lock (_lock)
        {
            foreach (var watcher in _watchers)
            {
                watcher.Send(Line("ERROR", Status(code, reason, message)));
            }
        }
    }

    private long Next() => ++_resourceVersion;

    private void Emit(long rv, string type, JsonObject slice)
    {
        _history.Add((rv, type, slice));
        var line = Line(type, slice);
        var service = ServiceOf(slice);
        var ns = slice["metadata"]!["namespace"]!.GetValue<string>();
        foreach (var watcher in _watchers)
        {
            if (watcher.Namespace == ns && watcher.Service == service)
            {
                watcher.Send(line);
            }
        }
    }

    private static string ServiceOf(JsonObject slice) => slice["metadata"]!["labels"]!["kubernetes.io/service-name"]!.GetValue<string>();

    private static string Line(string type, JsonNode obj) => new JsonObject { ["type"] = type, ["object"] = obj.DeepClone() }.ToJsonString() + "\n";

    private static JsonObject Status(int code, string reason, string message) => new()
    {
        ["kind"] = "Status",
        ["apiVersion"] = "v1",
        ["metadata"] = new JsonObject(),
        ["status"] = "Failure",
        ["message"] = message,
        ["reason"] = reason,
        ["code"] = code,
    };

    private static Task WriteStatusAsync(HttpContext context, int code, string reason, string message)
    {
        context.Response.StatusCode = code;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(Status(code, reason, message).ToJsonString());
    }

    private async Task HandleAsync(HttpContext context)
    {
        var authorization = context.Request.Headers.Authorization.ToString();
        string? token = authorization.StartsWith("Bearer ", StringComparison.Ordinal) ? authorization["Bearer ".Length..] : null;
        TokensSeen.Enqueue(token);
        try
        {
            await HandleAuthenticatedAsync(context, token);
        }
        finally
        {
            Changed.Pulse();
        }
    }

    private async Task HandleAuthenticatedAsync(HttpContext context, string? token)
    {
        if (Unavailable)
        {
            Interlocked.Increment(ref _unavailableAnswers);
            await WriteStatusAsync(context, 503, "ServiceUnavailable", "the server is currently unable to handle the request");
            return;
        }

        bool authenticated = token is not null && ValidTokens.ContainsKey(token);
        if (!authenticated && token is null && AcceptClientCertificates && context.Connection.ClientCertificate is { } clientCertificate)
        {
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(TestCertificates.Shared.Ca);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            authenticated = chain.Build(clientCertificate);
            if (authenticated)
            {
                ClientCertificatesSeen.Enqueue(clientCertificate.Subject);
            }
        }

        if (!authenticated)
        {
            await WriteStatusAsync(context, 401, "Unauthorized", "Unauthorized");
            return;
        }

        var segments = context.Request.Path.Value!.Trim('/').Split('/');
        if (segments is ["api", "v1", "namespaces", var ns, "services", var name])
        {
            Interlocked.Increment(ref _serviceReads);
            if (ForbidServices)
            {
                await WriteStatusAsync(context, 403, "Forbidden", $"services \"{name}\" is forbidden: User \"system:serviceaccount:default:app\" cannot get resource \"services\" in API group \"\" in the namespace \"{ns}\"");
                return;
            }

            JsonObject? service;
            lock (_lock)
            {
                service = _services.GetValueOrDefault((ns, name));
            }

            if (service is null)
            {
                await WriteStatusAsync(context, 404, "NotFound", $"services \"{name}\" not found");
                return;
            }

            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(service.ToJsonString());
            return;
        }

        if (segments is ["apis", "discovery.k8s.io", "v1", "namespaces", var sliceNs, "endpointslices"])
        {
            var selector = context.Request.Query["labelSelector"].ToString();
            const string prefix = "kubernetes.io/service-name=";
            if (!selector.StartsWith(prefix, StringComparison.Ordinal))
            {
                await WriteStatusAsync(context, 400, "BadRequest", "this stand-in understands only kubernetes.io/service-name=<name>");
                return;
            }

            string serviceName = selector[prefix.Length..];
            if (context.Request.Query["watch"] is { Count: > 0 } watch && (watch == "true" || watch == "1"))
            {
                await WatchAsync(context, sliceNs, serviceName);
            }
            else
            {
                await ListAsync(context, sliceNs, serviceName);
            }

            return;
        }

        if (segments is ["apis", "gateway.networking.k8s.io", "v1", "namespaces", var routeNs, "httproutes"])
        {
            await HandleHttpRoutesAsync(context, routeNs);
            return;
        }

        await WriteStatusAsync(context, 404, "NotFound", "the server could not find the requested resource");
    }

    private async Task ListAsync(HttpContext context, string ns, string service)
    {
        Interlocked.Increment(ref _lists);
        var query = context.Request.Query;
        var request = new ListRequest(NullIfEmpty(query["resourceVersion"]), NullIfEmpty(query["resourceVersionMatch"]),
            int.TryParse(query["limit"], CultureInfo.InvariantCulture, out var limit) ? limit : null, NullIfEmpty(query["continue"]));
        ListRequests.Enqueue(request);
        if (request.Continue is not null && request.ResourceVersion is not null)
        {
            await WriteStatusAsync(context, 400, "BadRequest", "specifying resource version is not allowed when using continue");
            return;
        }

        int offset = request.Continue is { } token ? int.Parse(token, CultureInfo.InvariantCulture) : 0;
        string body;
        lock (_lock)
        {
            var matching = _slices.Where(s => s.Key.Ns == ns && ServiceOf(s.Value) == service).OrderBy(s => s.Key.Name, StringComparer.Ordinal).ToList();
            int count = request.Limit is > 0 ? Math.Min(request.Limit.Value, matching.Count - offset) : matching.Count - offset;
            var items = new JsonArray();
            foreach (var (_, slice) in matching.Skip(offset).Take(count))
            {
                items.Add(slice.DeepClone());
            }

            var metadata = new JsonObject { ["resourceVersion"] = _resourceVersion.ToString(CultureInfo.InvariantCulture) };
            if (offset + count < matching.Count)
            {
                metadata["continue"] = (offset + count).ToString(CultureInfo.InvariantCulture);
            }

            body = new JsonObject
            {
                ["kind"] = "EndpointSliceList",
                ["apiVersion"] = "discovery.k8s.io/v1",
                ["metadata"] = metadata,
                ["items"] = items,
            }.ToJsonString();
        }

        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body);
    }

    private async Task WatchAsync(HttpContext context, string ns, string service)
    {
        Interlocked.Increment(ref _watches);
        var requested = context.Request.Query["resourceVersion"].ToString();
        WatchResourceVersions.Enqueue(requested);
        long from = long.TryParse(requested, CultureInfo.InvariantCulture, out var parsed) ? parsed : 0;
        var watcher = new Watcher(ns, service, context);
        bool gone;
        lock (_lock)
        {
            gone = from < _oldestWatchable;
            if (!gone)
            {
                foreach (var (rv, type, obj) in _history)
                {
                    if (rv > from && obj["metadata"]!["namespace"]!.GetValue<string>() == ns && ServiceOf(obj) == service)
                    {
                        watcher.Send(Line(type, obj));
                    }
                }

                _watchers.Add(watcher);
            }
        }

        Changed.Pulse();

        string goneMessage = $"too old resource version: {requested} ({_oldestWatchable})";
        if (gone && GoneMode == GoneMode.Status)
        {
            await WriteStatusAsync(context, 410, "Expired", goneMessage);
            return;
        }

        context.Response.ContentType = "application/json";
        await context.Response.StartAsync();
        await context.Response.Body.FlushAsync();
        if (gone)
        {
            await context.Response.WriteAsync(Line("ERROR", Status(410, "Expired", goneMessage)));
            return;
        }

        try
        {
            await watcher.PumpAsync(this);
        }
        finally
        {
            lock (_lock)
            {
                _watchers.Remove(watcher);
            }

            Changed.Pulse();
        }
    }

    private static string? NullIfEmpty(Microsoft.Extensions.Primitives.StringValues value) => value.Count == 0 || string.IsNullOrEmpty(value[0]) ? null : value[0];

    public async ValueTask DisposeAsync()
    {
        if (_app is { } app)
        {
            lock (_lock)
            {
                foreach (var watcher in _watchers.Concat(_routeWatchers))
                {
                    watcher.Abort();
                }
            }

            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    private sealed class Watcher(string ns, string service, HttpContext context)
    {
        private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();

        public string Namespace { get; } = ns;

        public string Service { get; } = service;

        public volatile bool CutAtNextEvent;

        public void Send(string line) => _lines.Writer.TryWrite(line);

        public void Complete() => _lines.Writer.TryComplete();

        public void Abort()
        {
            _lines.Writer.TryComplete();
            context.Abort();
        }

        public async Task PumpAsync(FakeKubernetesApiServer server)
        {
            var response = context.Response;
            var aborted = context.RequestAborted;
            try
            {
                await foreach (var line in _lines.Reader.ReadAllAsync(aborted))
                {
                    var bytes = Encoding.UTF8.GetBytes(line);
                    if (CutAtNextEvent)
                    {
                        await response.Body.WriteAsync(bytes.AsMemory(0, bytes.Length / 2), aborted);
                        await response.Body.FlushAsync(aborted);
                        context.Abort();
                        return;
                    }

                    if (server.SlowStream)
                    {
                        for (int i = 0; i < bytes.Length; i += 64)
                        {
                            await response.Body.WriteAsync(bytes.AsMemory(i, Math.Min(64, bytes.Length - i)), aborted);
                            await response.Body.FlushAsync(aborted);
                            await Task.Delay(5, aborted); // the server's pace, not the test's synchronisation
                        }
                    }
                    else
                    {
                        await response.Body.WriteAsync(bytes, aborted);
                        await response.Body.FlushAsync(aborted);
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
            catch (IOException)
            {
            }
        }
    }
}
