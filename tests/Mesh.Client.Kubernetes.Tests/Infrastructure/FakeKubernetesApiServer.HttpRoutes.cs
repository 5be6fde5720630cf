using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Mesh.Client.Kubernetes.Tests.Infrastructure;

/// <summary>
/// HTTPRoutes (gateway.networking.k8s.io/v1) in the stand-in: LIST and WATCH per namespace, with the same
/// resourceVersion counter, history and 410 rules as EndpointSlices, plus a CRD that is not installed (404) and a Role
/// without the permission (403).
/// </summary>
public sealed partial class FakeKubernetesApiServer
{
    private readonly Dictionary<(string Ns, string Name), JsonObject> _httpRoutes = [];
    private readonly List<(long Rv, string Type, JsonObject Object)> _routeHistory = [];
    private readonly List<Watcher> _routeWatchers = [];
    private int _routeLists;
    private int _routeWatches;
    private long _routeCreations;

    /// <summary>False: every HTTPRoute request is answered 404, as when the Gateway API CRDs are not installed.</summary>
    public bool HttpRoutesInstalled { get; set; } = true;

    /// <summary>Answers HTTPRoute requests with 403, as for a Role without <c>httproutes</c>.</summary>
    public bool ForbidHttpRoutes { get; set; }

    /// <summary>When set, HTTPRoute lists wait for it to complete before answering.</summary>
    public TaskCompletionSource? HttpRouteListGate { get; set; }

    /// <summary>HTTPRoute LIST requests, answered or refused.</summary>
    public int HttpRouteLists => Volatile.Read(ref _routeLists);

    /// <summary>HTTPRoute WATCH requests, answered or refused.</summary>
    public int HttpRouteWatches => Volatile.Read(ref _routeWatches);

    /// <summary>The resourceVersion each HTTPRoute watch asked to start from, in order.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> HttpRouteWatchResourceVersions { get; } = new();

    public int OpenHttpRouteWatches
    {
        get
        {
            lock (_lock)
            {
                return _routeWatchers.Count;
            }
        }
    }

    /// <summary>
    /// Creates or replaces an HTTPRoute with <paramref name="spec"/> (JSON); an ADDED or MODIFIED event for watchers.
    /// A new route is created one second after the previous one (its creationTimestamp), unless <paramref name="created"/> says.
    /// </summary>
    public long SetHttpRoute(string ns, string name, string spec, DateTimeOffset? created = null)
    {
        lock (_lock)
        {
            var rv = Next();
            bool exists = _httpRoutes.TryGetValue((ns, name), out var previous);
            string timestamp = exists
                ? previous!["metadata"]!["creationTimestamp"]!.GetValue<string>()
                : (created ?? new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).AddSeconds(++_routeCreations)).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
            var route = new JsonObject
            {
                ["apiVersion"] = "gateway.networking.k8s.io/v1",
                ["kind"] = "HTTPRoute",
                ["metadata"] = new JsonObject
                {
                    ["name"] = name,
                    ["namespace"] = ns,
                    ["resourceVersion"] = rv.ToString(CultureInfo.InvariantCulture),
                    ["creationTimestamp"] = timestamp,
                },
                ["spec"] = JsonNode.Parse(spec),
            };
            _httpRoutes[(ns, name)] = route;
            EmitRoute(rv, exists ? "MODIFIED" : "ADDED", route);
            return rv;
        }
    }

    public void DeleteHttpRoute(string ns, string name)
    {
        lock (_lock)
        {
            if (_httpRoutes.Remove((ns, name), out var route))
            {
                var rv = Next();
                var deleted = (JsonObject)route.DeepClone();
                deleted["metadata"]!["resourceVersion"] = rv.ToString(CultureInfo.InvariantCulture);
                EmitRoute(rv, "DELETED", deleted);
            }
        }
    }

    /// <summary>Sends a BOOKMARK to every open HTTPRoute watch; returns its resourceVersion.</summary>
    public long HttpRouteBookmark()
    {
        lock (_lock)
        {
            var rv = Next();
            var bookmark = new JsonObject
            {
                ["apiVersion"] = "gateway.networking.k8s.io/v1",
                ["kind"] = "HTTPRoute",
                ["metadata"] = new JsonObject { ["resourceVersion"] = rv.ToString(CultureInfo.InvariantCulture) },
            };
            foreach (var watcher in _routeWatchers)
            {
                watcher.Send(Line("BOOKMARK", bookmark));
            }

            return rv;
        }
    }

    /// <summary>Sends an ERROR event to every open HTTPRoute watch.</summary>
    public void SendHttpRouteError(int code, string reason, string message)
    {
        lock (_lock)
        {
            foreach (var watcher in _routeWatchers)
            {
                watcher.Send(Line("ERROR", Status(code, reason, message)));
            }
        }
    }

    /// <summary>Ends every open HTTPRoute watch cleanly (the server's timeout).</summary>
    public void CloseHttpRouteWatches()
    {
        lock (_lock)
        {
            foreach (var watcher in _routeWatchers)
            {
                watcher.Complete();
            }
        }
    }

    private void EmitRoute(long rv, string type, JsonObject route)
    {
        _routeHistory.Add((rv, type, route));
        var line = Line(type, route);
        var ns = route["metadata"]!["namespace"]!.GetValue<string>();
        foreach (var watcher in _routeWatchers)
        {
            if (watcher.Namespace == ns)
            {
                watcher.Send(line);
            }
        }
    }

    private async Task HandleHttpRoutesAsync(HttpContext context, string ns)
    {
        bool isWatch = context.Request.Query["watch"] is { Count: > 0 } watch && (watch == "true" || watch == "1");
        Interlocked.Increment(ref isWatch ? ref _routeWatches : ref _routeLists);
        if (!HttpRoutesInstalled)
        {
            await WriteStatusAsync(context, 404, "NotFound", "the server could not find the requested resource");
            return;
        }

        if (ForbidHttpRoutes)
        {
            await WriteStatusAsync(context, 403, "Forbidden",
                $"httproutes.gateway.networking.k8s.io is forbidden: User \"system:serviceaccount:default:app\" cannot list resource \"httproutes\" in API group \"gateway.networking.k8s.io\" in the namespace \"{ns}\"");
            return;
        }

        if (isWatch)
        {
            await WatchRoutesAsync(context, ns);
        }
        else
        {
            await ListRoutesAsync(context, ns);
        }
    }

    private async Task ListRoutesAsync(HttpContext context, string ns)
    {
        Changed.Pulse();
        if (HttpRouteListGate is { } gate)
        {
            await gate.Task.WaitAsync(context.RequestAborted);
        }

        string body;
        lock (_lock)
        {
            var items = new JsonArray();
            foreach (var (_, route) in _httpRoutes.Where(r => r.Key.Ns == ns).OrderBy(r => r.Key.Name, StringComparer.Ordinal))
            {
                items.Add(route.DeepClone());
            }

            body = new JsonObject
            {
                ["apiVersion"] = "gateway.networking.k8s.io/v1",
                ["kind"] = "HTTPRouteList",
                ["metadata"] = new JsonObject { ["resourceVersion"] = _resourceVersion.ToString(CultureInfo.InvariantCulture) },
                ["items"] = items,
            }.ToJsonString();
        }

        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body);
    }

    private async Task WatchRoutesAsync(HttpContext context, string ns)
    {
        var requested = context.Request.Query["resourceVersion"].ToString();
        HttpRouteWatchResourceVersions.Enqueue(requested);
        long from = long.TryParse(requested, CultureInfo.InvariantCulture, out var parsed) ? parsed : 0;
        var watcher = new Watcher(ns, "httproutes", context);
        bool gone;
        lock (_lock)
        {
            gone = from < _oldestWatchable;
            if (!gone)
            {
                foreach (var (rv, type, obj) in _routeHistory)
                {
                    if (rv > from && obj["metadata"]!["namespace"]!.GetValue<string>() == ns)
                    {
                        watcher.Send(Line(type, obj));
                    }
                }

                _routeWatchers.Add(watcher);
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
                _routeWatchers.Remove(watcher);
            }

            Changed.Pulse();
        }
    }
}
