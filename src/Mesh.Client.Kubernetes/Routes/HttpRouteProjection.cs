using System.Globalization;
using System.Text.RegularExpressions;
using Mesh.Client.Kubernetes.Discovery;

namespace Mesh.Client.Kubernetes.Routes;

/// <summary>
/// Turns the HTTPRoutes of a namespace into one Service's routes (GAMMA: routes whose parentRefs name the Service).
/// Each rule becomes one <see cref="MeshRoute"/> named <c>&lt;namespace&gt;/&lt;route&gt;/&lt;rule name or index&gt;</c>,
/// in Gateway API's order for rules of equal precedence: the older route first, then by namespace/name, then rule
/// order. Whatever the mesh cannot apply is left out and described in <see cref="Result.Ignored"/>, one message each,
/// naming the route, the rule and the field.
/// </summary>
internal static class HttpRouteProjection
{
    /// <summary>The most attempts the mesh makes per request, the first included (Gateway API sets no limit on retries).</summary>
    internal const int MaxAttempts = 8;

    /// <summary>The largest backend weight, in Gateway API and in the mesh.</summary>
    internal const int MaxWeight = 1_000_000;

    private static readonly TimeSpan MaxTimeout = TimeSpan.FromHours(1);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    public sealed record Result(List<MeshRoute> Routes, List<string> Ignored);

    /// <param name="routes">The namespace's HTTPRoutes.</param>
    /// <param name="service">The Service whose routes to build.</param>
    /// <param name="portSelector">The port the client selects (a name or number), or null for the Service's default.</param>
    /// <param name="defaultNamespace">The resolver's namespace for unqualified names: backends there are named <c>name</c>, others <c>name.namespace</c>.</param>
    /// <param name="ports">Where backendRef ports are recorded for the resolver; null: not recorded.</param>
    public static Result Project(IEnumerable<HttpRoute> routes, KubernetesServiceName service, string? portSelector, string defaultNamespace,
        BackendPorts? ports)
    {
        var result = new Result([], []);
        var attached = new List<HttpRoute>();
        foreach (var route in routes)
        {
            if (route?.Metadata?.Name is { Length: > 0 } && route.Spec is not null && AttachesTo(route, service, portSelector))
            {
                attached.Add(route);
            }
        }

        // Gateway API: among rules of equal precedence, the oldest route wins, then the first by "<namespace>/<name>".
        attached.Sort(static (a, b) =>
        {
            int byAge = Nullable.Compare(a.Metadata!.CreationTimestamp, b.Metadata!.CreationTimestamp);
            return byAge != 0 ? byAge : string.CompareOrdinal(Key(a), Key(b));
        });

        foreach (var route in attached)
        {
            ProjectRoute(route, service, defaultNamespace, ports, result);
        }

        return result;
    }

    /// <summary>The core API group: <c>""</c> in Gateway API, also written <c>core</c> (Linkerd's examples do).</summary>
    private static bool IsCoreGroup(string? group) => string.IsNullOrEmpty(group) || group == "core";

    private static string Key(HttpRoute route) => $"{route.Metadata!.Namespace}/{route.Metadata.Name}";

    /// <summary>Whether a parentRef names the Service: group core, kind Service, its name and namespace, and its port if one is given.</summary>
    private static bool AttachesTo(HttpRoute route, KubernetesServiceName service, string? portSelector)
    {
        string routeNamespace = route.Metadata!.Namespace ?? service.Namespace;
        foreach (var parent in route.Spec!.ParentRefs ?? [])
        {
            if (parent is null || !IsCoreGroup(parent.Group) || parent.Kind != "Service" || parent.Name != service.Name
                || (parent.Namespace ?? routeNamespace) != service.Namespace)
            {
                continue;
            }

            // A route for one port of the Service applies when the client selects that port, or the Service's default
            // (which the source cannot tell apart from another port without reading the Service).
            if ((parent.Port is { } port && portSelector is not null && portSelector != port.ToString(CultureInfo.InvariantCulture)
                    && portSelector != parent.SectionName)
                || (parent.SectionName is { } section && portSelector is not null && portSelector != section
                    && portSelector != parent.Port?.ToString(CultureInfo.InvariantCulture)))
            {
                continue;
            }

            return true;
        }

        return false;
    }

    private static void ProjectRoute(HttpRoute route, KubernetesServiceName service, string defaultNamespace, BackendPorts? ports, Result result)
    {
        string routeName = Key(route);
        string routeNamespace = route.Metadata!.Namespace ?? service.Namespace;
        if (route.Spec!.Hostnames is { Count: > 0 })
        {
            result.Ignored.Add($"HTTPRoute '{routeName}': 'hostnames' is ignored (a route attached to a Service applies to every request to it).");
        }

        var rules = route.Spec.Rules ?? [];
        if (rules.Count == 0)
        {
            // Gateway API defaults a route without rules to one rule sending everything to the parent.
            rules = [new HttpRouteRule()];
        }

        for (int index = 0; index < rules.Count; index++)
        {
            var rule = rules[index] ?? new HttpRouteRule();
            string ruleId = string.IsNullOrEmpty(rule.Name) ? index.ToString(CultureInfo.InvariantCulture) : rule.Name;
            string at = $"HTTPRoute '{routeName}' rule {ruleId}";
            var mesh = new MeshRoute { Name = $"{routeName}/{ruleId}" };
            if (!AddMatches(rule, mesh, at, result.Ignored))
            {
                continue;
            }

            foreach (var filter in rule.Filters ?? [])
            {
                result.Ignored.Add($"{at}: filter '{filter?.Type}' is not supported and is ignored (the rule applies without it).");
            }

            if (rule.SessionPersistence is not null)
            {
                result.Ignored.Add($"{at}: 'sessionPersistence' is not supported and is ignored.");
            }

            if (!AddBackends(rule, mesh, at, service, routeNamespace, defaultNamespace, ports, result.Ignored))
            {
                continue;
            }

            ApplyTimeouts(rule.Timeouts, mesh, at, result.Ignored);
            ApplyRetry(rule.Retry, mesh, at, result.Ignored);
            result.Routes.Add(mesh);
        }
    }

    /// <summary>Adds the rule's matches; false when the rule has matches and none can be applied (then it is left out whole).</summary>
    private static bool AddMatches(HttpRouteRule rule, MeshRoute mesh, string at, List<string> ignored)
    {
        var matches = rule.Matches ?? [];
        for (int m = 0; m < matches.Count; m++)
        {
            var match = matches[m] ?? new HttpRouteMatch();
            string where = $"{at} match {m}";
            var result = new MeshRouteMatch();
            string? problem = null;
            if (match.Path is { } path)
            {
                var type = path.Type switch
                {
                    null or "PathPrefix" => RoutePathMatchType.PathPrefix,
                    "Exact" => RoutePathMatchType.Exact,
                    "RegularExpression" => RoutePathMatchType.RegularExpression,
                    _ => (RoutePathMatchType?)null,
                };
                string value = path.Value ?? "/";
                if (type is null)
                {
                    problem = $"path type '{path.Type}' is not supported";
                }
                else if (type == RoutePathMatchType.RegularExpression ? !Compiles(value) : !value.StartsWith('/'))
                {
                    problem = $"path '{value}' is not a valid {(type == RoutePathMatchType.RegularExpression ? ".NET regular expression" : "path")}";
                }
                else
                {
                    result.Path = new RoutePathMatch { Type = type.Value, Value = value };
                }
            }

            if (!string.IsNullOrEmpty(match.Method))
            {
                result.Method = match.Method;
            }

            problem ??= AddValues(match.Headers, result.Headers, "header");
            problem ??= AddValues(match.QueryParams, result.QueryParameters, "query parameter");
            if (problem is not null)
            {
                ignored.Add($"{where}: {problem}; the match is left out.");
                continue;
            }

            mesh.Matches.Add(result);
        }

        if (matches.Count > 0 && mesh.Matches.Count == 0)
        {
            // Without its matches the rule would take every request: leave it out instead.
            ignored.Add($"{at}: none of its matches can be applied; the rule is left out.");
            return false;
        }

        return true;
    }

    private static string? AddValues(List<HttpValueMatch>? matches, IList<RouteValueMatch> target, string what)
    {
        foreach (var match in matches ?? [])
        {
            if (match is null || string.IsNullOrEmpty(match.Name) || match.Value is null)
            {
                return $"a {what} match without a name or value";
            }

            var type = match.Type switch
            {
                null or "Exact" => RouteValueMatchType.Exact,
                "RegularExpression" => RouteValueMatchType.RegularExpression,
                _ => (RouteValueMatchType?)null,
            };
            if (type is null)
            {
                return $"{what} match type '{match.Type}' is not supported";
            }

            if (type == RouteValueMatchType.RegularExpression && !Compiles(match.Value))
            {
                return $"{what} '{match.Name}' value '{match.Value}' is not a valid .NET regular expression";
            }

            target.Add(new RouteValueMatch { Name = match.Name, Value = match.Value, Type = type.Value });
        }

        return null;
    }

    private static bool Compiles(string pattern)
    {
        try
        {
            _ = new Regex($"^(?:{pattern})$", RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100));
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>Adds the rule's backends; false when none can take traffic (the rule is then left out).</summary>
    private static bool AddBackends(HttpRouteRule rule, MeshRoute mesh, string at, KubernetesServiceName service, string routeNamespace,
        string defaultNamespace, BackendPorts? ports, List<string> ignored)
    {
        var refs = rule.BackendRefs;
        if (refs is null or { Count: 0 })
        {
            // GAMMA: a rule without backendRefs sends its requests to the parent Service itself.
            mesh.Backends.Add(new MeshRouteBackend { Service = MeshName(service.Name, service.Namespace, defaultNamespace), Weight = 1 });
            return true;
        }

        long total = 0;
        for (int b = 0; b < refs.Count; b++)
        {
            var backend = refs[b];
            string where = $"{at} backendRef {b}";
            if (backend is null || string.IsNullOrEmpty(backend.Name))
            {
                ignored.Add($"{where}: no name; the backend is left out.");
                continue;
            }

            if (!IsCoreGroup(backend.Group) || (backend.Kind ?? "Service") != "Service")
            {
                ignored.Add($"{where}: kind '{backend.Group}/{backend.Kind}' '{backend.Name}' is not supported (only Services); the backend is left out.");
                continue;
            }

            string ns = backend.Namespace ?? routeNamespace;
            if (!KubernetesServiceName.IsDnsLabel(backend.Name) || !char.IsAsciiLetterLower(backend.Name[0]) || !KubernetesServiceName.IsDnsLabel(ns))
            {
                ignored.Add($"{where}: '{backend.Name}' in namespace '{ns}' is not a valid Service name; the backend is left out.");
                continue;
            }

            if (ns != routeNamespace)
            {
                ignored.Add($"{where}: the Service '{backend.Name}' in namespace '{ns}' is used without checking for a ReferenceGrant.");
            }

            foreach (var filter in backend.Filters ?? [])
            {
                ignored.Add($"{where}: filter '{filter?.Type}' is not supported and is ignored.");
            }

            int weight = backend.Weight ?? 1;
            if (weight is < 0 or > MaxWeight)
            {
                ignored.Add($"{where}: weight {weight} is outside 0 to {MaxWeight}; the backend is left out.");
                continue;
            }

            string name = MeshName(backend.Name, ns, defaultNamespace);
            if (backend.Port is { } port && ports?.Use(name, backend.Name, port) is { } portProblem)
            {
                ignored.Add($"{where}: {portProblem}.");
            }

            total += weight;
            mesh.Backends.Add(new MeshRouteBackend { Service = name, Weight = weight });
        }

        if (mesh.Backends.Count == 0 || total == 0)
        {
            // Gateway API answers such requests with 500; the mesh has no such backend, so the rule is left out and its
            // requests fall to the next rule that matches, or to the Service's own endpoints.
            ignored.Add($"{at}: no backend can take traffic (no valid backendRef, or every weight is 0); the rule is left out.");
            mesh.Backends.Clear();
            return false;
        }

        return true;
    }

    /// <summary>The mesh service the Kubernetes resolver resolves to this Service: <c>name</c> in its default namespace, else <c>name.namespace</c>.</summary>
    internal static string MeshName(string name, string ns, string defaultNamespace) => ns == defaultNamespace ? name : $"{name}.{ns}";

    private static void ApplyTimeouts(HttpRouteTimeouts? timeouts, MeshRoute mesh, string at, List<string> ignored)
    {
        if (timeouts is null)
        {
            return;
        }

        mesh.Timeout = Timeout(timeouts.Request, $"{at}: timeouts.request", ignored);
        mesh.AttemptTimeout = Timeout(timeouts.BackendRequest, $"{at}: timeouts.backendRequest", ignored);
    }

    private static TimeSpan? Timeout(string? text, string where, List<string> ignored)
    {
        if (text is null)
        {
            return null;
        }

        if (!GatewayDuration.TryParse(text, out var value))
        {
            ignored.Add($"{where} '{text}' is not a Gateway API duration (such as 10s, 500ms or 1h30m) and is ignored.");
            return null;
        }

        if (value == TimeSpan.Zero)
        {
            return System.Threading.Timeout.InfiniteTimeSpan; // Gateway API: 0s turns the timeout off
        }

        if (value > MaxTimeout)
        {
            ignored.Add($"{where} '{text}' is longer than the mesh allows; 1h is used.");
            return MaxTimeout;
        }

        return value;
    }

    private static void ApplyRetry(HttpRouteRetry? retry, MeshRoute mesh, string at, List<string> ignored)
    {
        if (retry is null)
        {
            return;
        }

        if (retry.Attempts is { } attempts)
        {
            // Gateway API counts retries after the first attempt; the mesh counts attempts, the first included.
            if (attempts <= 0)
            {
                mesh.Retry.Enabled = false;
            }
            else
            {
                mesh.Retry.Enabled = true;
                mesh.Retry.MaxAttempts = Math.Min(attempts + 1, MaxAttempts);
                if (attempts + 1 > MaxAttempts)
                {
                    ignored.Add($"{at}: retry.attempts {attempts} is more than the mesh allows; {MaxAttempts - 1} retries ({MaxAttempts} attempts) are used.");
                }
            }
        }

        if (retry.Codes is { Count: > 0 } codes)
        {
            var kept = new List<int>();
            foreach (int code in codes)
            {
                if (code is >= 400 and <= 599)
                {
                    if (!kept.Contains(code))
                    {
                        kept.Add(code);
                    }
                }
                else
                {
                    ignored.Add($"{at}: retry.codes {code} is outside 400-599 and is ignored.");
                }
            }

            if (kept.Count > 0)
            {
                mesh.Retry.StatusCodes = kept;
            }
        }

        if (retry.Backoff is { } backoff)
        {
            if (!GatewayDuration.TryParse(backoff, out var value))
            {
                ignored.Add($"{at}: retry.backoff '{backoff}' is not a Gateway API duration and is ignored.");
            }
            else if (value > MaxBackoff)
            {
                ignored.Add($"{at}: retry.backoff '{backoff}' is longer than the mesh allows; 30s is used.");
                mesh.Retry.Backoff = MaxBackoff;
            }
            else
            {
                mesh.Retry.Backoff = value;
            }
        }
    }
}
