using System.Text.Json;
using Mesh.Client.Kubernetes.Discovery;
using Mesh.Client.Kubernetes.Routes;

namespace Mesh.Client.Kubernetes.Tests.Routes;

public sealed class HttpRouteProjectionTests
{
    private static readonly KubernetesServiceName Catalog = new("catalog", "shop");

    private static HttpRoute Route(string name, string spec, string ns = "shop", string created = "2026-01-01T00:00:00Z") =>
        JsonSerializer.Deserialize<HttpRoute>(
            $$"""{ "metadata": { "name": "{{name}}", "namespace": "{{ns}}", "creationTimestamp": "{{created}}", "resourceVersion": "1" }, "spec": {{spec}} }""",
            HttpRouteJson.Options)!;

    private const string ToCatalog = """ "parentRefs": [ { "group": "", "kind": "Service", "name": "catalog" } ] """;

    private static HttpRouteProjection.Result Project(params HttpRoute[] routes) =>
        HttpRouteProjection.Project(routes, Catalog, portSelector: null, defaultNamespace: "shop", new BackendPorts(new Dictionary<string, string>()));

    [Fact]
    public void A_canary_split_becomes_one_route_with_weighted_backends()
    {
        var result = Project(Route("canary", $$"""
            { {{ToCatalog}}, "rules": [ { "backendRefs": [
                { "name": "catalog-v1", "port": 80, "weight": 90 },
                { "name": "catalog-v2", "port": 80, "weight": 10 } ] } ] }
            """));

        var route = Assert.Single(result.Routes);
        Assert.Equal("shop/canary/0", route.Name);
        Assert.Empty(route.Matches); // no matches: every request, ranked as prefix "/"
        Assert.Equal([("catalog-v1", 90), ("catalog-v2", 10)], route.Backends.Select(b => (b.Service!, b.Weight)));
        Assert.Empty(result.Ignored);
    }

    [Fact]
    public void Only_routes_whose_parentRefs_name_this_service_as_a_core_Service_apply()
    {
        var result = Project(
            Route("gateway", """{ "parentRefs": [ { "name": "catalog" } ], "rules": [ { "backendRefs": [ { "name": "a" } ] } ] }"""),
            Route("other", """{ "parentRefs": [ { "kind": "Service", "name": "inventory" } ], "rules": [ { "backendRefs": [ { "name": "b" } ] } ] }"""),
            Route("elsewhere", """{ "parentRefs": [ { "kind": "Service", "name": "catalog", "namespace": "other" } ], "rules": [ { "backendRefs": [ { "name": "c" } ] } ] }"""),
            Route("mine", """{ "parentRefs": [ { "kind": "Service", "name": "catalog", "namespace": "shop" } ], "rules": [ { "backendRefs": [ { "name": "d" } ] } ] }"""),
            Route("core", """{ "parentRefs": [ { "group": "core", "kind": "Service", "name": "catalog" } ], "rules": [ { "backendRefs": [ { "group": "core", "kind": "Service", "name": "e" } ] } ] }""",
                created: "2026-01-02T00:00:00Z"));

        Assert.Equal(["shop/mine/0", "shop/core/0"], result.Routes.Select(r => r.Name));
        Assert.Equal("e", result.Routes[1].Backends[0].Service);
    }

    [Fact]
    public void A_parentRef_port_restricts_the_route_to_clients_of_that_port()
    {
        var route = Route("p", """{ "parentRefs": [ { "kind": "Service", "name": "catalog", "port": 8080 } ], "rules": [ { "backendRefs": [ { "name": "a" } ] } ] }""");
        var ports = new BackendPorts(new Dictionary<string, string>());
        Assert.Single(HttpRouteProjection.Project([route], Catalog, "8080", "shop", ports).Routes);
        Assert.Single(HttpRouteProjection.Project([route], Catalog, null, "shop", ports).Routes);
        Assert.Empty(HttpRouteProjection.Project([route], Catalog, "9090", "shop", ports).Routes);
    }

    [Fact]
    public void Matches_map_path_method_headers_and_query_parameters()
    {
        var result = Project(Route("m", $$"""
            { {{ToCatalog}}, "rules": [ { "name": "api", "matches": [
                { "path": { "type": "Exact", "value": "/items/special" }, "method": "POST",
                  "headers": [ { "name": "x-canary", "value": "true" }, { "type": "RegularExpression", "name": "x-user", "value": "u[0-9]+" } ],
                  "queryParams": [ { "name": "debug", "value": "1" } ] },
                { "path": { "type": "RegularExpression", "value": "/v[0-9]+/.*" } },
                { "path": { "value": "/api" } } ],
              "backendRefs": [ { "name": "catalog-v2" } ] } ] }
            """));

        var route = Assert.Single(result.Routes);
        Assert.Equal("shop/m/api", route.Name);
        Assert.Equal(3, route.Matches.Count);
        var first = route.Matches[0];
        Assert.Equal(RoutePathMatchType.Exact, first.Path!.Type);
        Assert.Equal("/items/special", first.Path.Value);
        Assert.Equal("POST", first.Method);
        Assert.Equal([("x-canary", "true", RouteValueMatchType.Exact), ("x-user", "u[0-9]+", RouteValueMatchType.RegularExpression)],
            first.Headers.Select(h => (h.Name!, h.Value!, h.Type)));
        Assert.Equal("debug", Assert.Single(first.QueryParameters).Name);
        Assert.Equal(RoutePathMatchType.RegularExpression, route.Matches[1].Path!.Type);
        Assert.Equal(RoutePathMatchType.PathPrefix, route.Matches[2].Path!.Type);
        Assert.Equal(1, Assert.Single(route.Backends).Weight);
        Assert.Empty(result.Ignored);
    }

    [Fact]
    public void Rules_are_ordered_by_route_age_then_namespace_and_name_then_rule_index()
    {
        var result = Project(
            Route("zeta", $$"""{ {{ToCatalog}}, "rules": [ { "backendRefs": [ { "name": "z" } ] } ] }""", created: "2026-01-01T00:00:00Z"),
            Route("beta", $$"""{ {{ToCatalog}}, "rules": [ { "backendRefs": [ { "name": "b" } ] }, { "backendRefs": [ { "name": "b2" } ] } ] }""", created: "2026-01-02T00:00:00Z"),
            Route("alpha", $$"""{ {{ToCatalog}}, "rules": [ { "backendRefs": [ { "name": "a" } ] } ] }""", created: "2026-01-02T00:00:00Z"),
            Route("old", $$"""{ {{ToCatalog}}, "rules": [ { "backendRefs": [ { "name": "o" } ] } ] }""", created: "2025-06-01T00:00:00Z"));

        Assert.Equal(["shop/old/0", "shop/zeta/0", "shop/alpha/0", "shop/beta/0", "shop/beta/1"], result.Routes.Select(r => r.Name));
    }

    [Theory]
    [InlineData("10s", 10_000)]
    [InlineData("500ms", 500)]
    [InlineData("1h30m", 5_400_000)]
    [InlineData("1m1s1ms", 61_001)]
    [InlineData("0s", 0)]
    public void Gateway_durations_parse(string text, int milliseconds)
    {
        Assert.True(GatewayDuration.TryParse(text, out var value));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("10")]
    [InlineData("1.5s")]
    [InlineData("-1s")]
    [InlineData("1d")]
    [InlineData("123456s")]
    [InlineData("1h1m1s1ms1h")]
    [InlineData("10 s")]
    public void Bad_gateway_durations_do_not_parse(string text) => Assert.False(GatewayDuration.TryParse(text, out _));

    [Fact]
    public void Timeouts_and_retry_map_to_the_route_and_attempts_count_the_first()
    {
        var result = Project(Route("t", $$"""
            { {{ToCatalog}}, "rules": [
                { "backendRefs": [ { "name": "a" } ], "timeouts": { "request": "10s", "backendRequest": "500ms" },
                  "retry": { "codes": [ 500, 503 ], "attempts": 2, "backoff": "100ms" } },
                { "backendRefs": [ { "name": "b" } ], "timeouts": { "request": "0s" }, "retry": { "attempts": 0 } },
                { "backendRefs": [ { "name": "c" } ], "retry": { "attempts": 20, "codes": [ 200, 502 ] } } ] }
            """));

        var (first, second, third) = (result.Routes[0], result.Routes[1], result.Routes[2]);
        Assert.Equal(TimeSpan.FromSeconds(10), first.Timeout);
        Assert.Equal(TimeSpan.FromMilliseconds(500), first.AttemptTimeout);
        Assert.True(first.Retry.Enabled);
        Assert.Equal(3, first.Retry.MaxAttempts);
        Assert.Equal([500, 503], first.Retry.StatusCodes!);
        Assert.Equal(TimeSpan.FromMilliseconds(100), first.Retry.Backoff);

        Assert.Equal(Timeout.InfiniteTimeSpan, second.Timeout); // 0s: no timeout
        Assert.False(second.Retry.Enabled);

        Assert.Equal(8, third.Retry.MaxAttempts);
        Assert.Equal([502], third.Retry.StatusCodes!);
        Assert.Contains(result.Ignored, m => m.Contains("HTTPRoute 'shop/t' rule 2: retry.attempts 20", StringComparison.Ordinal));
        Assert.Contains(result.Ignored, m => m.Contains("HTTPRoute 'shop/t' rule 2: retry.codes 200", StringComparison.Ordinal));
    }

    [Fact]
    public void Unsupported_fields_are_reported_naming_route_rule_and_field()
    {
        var result = Project(Route("u", $$"""
            { {{ToCatalog}}, "hostnames": [ "catalog.example" ], "rules": [
                { "name": "filtered", "filters": [ { "type": "RequestHeaderModifier" } ], "sessionPersistence": { "type": "Cookie" },
                  "backendRefs": [ { "name": "a", "filters": [ { "type": "RequestMirror" } ] }, { "group": "example.com", "kind": "Bucket", "name": "b" } ],
                  "timeouts": { "request": "ten seconds" } },
                { "name": "zero", "backendRefs": [ { "name": "a", "weight": 0 } ] },
                { "name": "badmatch", "matches": [ { "path": { "type": "RegularExpression", "value": "(" } } ], "backendRefs": [ { "name": "a" } ] } ] }
            """));

        var route = Assert.Single(result.Routes); // "zero" and "badmatch" are left out whole
        Assert.Equal("shop/u/filtered", route.Name);
        Assert.Equal(["a"], route.Backends.Select(b => b.Service!));
        Assert.Null(route.Timeout);
        string all = string.Join("\n", result.Ignored);
        Assert.Contains("HTTPRoute 'shop/u': 'hostnames'", all, StringComparison.Ordinal);
        Assert.Contains("HTTPRoute 'shop/u' rule filtered: filter 'RequestHeaderModifier' is not supported", all, StringComparison.Ordinal);
        Assert.Contains("rule filtered: 'sessionPersistence' is not supported", all, StringComparison.Ordinal);
        Assert.Contains("rule filtered backendRef 0: filter 'RequestMirror'", all, StringComparison.Ordinal);
        Assert.Contains("rule filtered backendRef 1: kind 'example.com/Bucket' 'b' is not supported", all, StringComparison.Ordinal);
        Assert.Contains("rule filtered: timeouts.request 'ten seconds'", all, StringComparison.Ordinal);
        Assert.Contains("rule zero: no backend can take traffic", all, StringComparison.Ordinal);
        Assert.Contains("rule badmatch match 0: path '(' is not a valid .NET regular expression", all, StringComparison.Ordinal);
        Assert.Contains("rule badmatch: none of its matches can be applied; the rule is left out", all, StringComparison.Ordinal);
    }

    [Fact]
    public void Backends_elsewhere_are_named_with_their_namespace_and_reported_without_a_ReferenceGrant_check()
    {
        var result = HttpRouteProjection.Project([Route("x", $$"""
            { {{ToCatalog}}, "rules": [ { "backendRefs": [ { "name": "catalog-v1" }, { "name": "catalog-eu", "namespace": "europe" } ] } ] }
            """)], Catalog, null, defaultNamespace: "frontend", new BackendPorts(new Dictionary<string, string>()));

        Assert.Equal(["catalog-v1.shop", "catalog-eu.europe"], result.Routes[0].Backends.Select(b => b.Service!));
        Assert.Contains(result.Ignored, m => m.Contains("backendRef 1: the Service 'catalog-eu' in namespace 'europe' is used without checking for a ReferenceGrant", StringComparison.Ordinal));
    }

    [Fact]
    public void A_rule_without_backendRefs_goes_to_the_parent_service()
    {
        var result = Project(Route("n", $$"""{ {{ToCatalog}}, "rules": [ { "matches": [ { "method": "POST" } ], "timeouts": { "backendRequest": "2s" } } ] }"""));
        Assert.Equal("catalog", Assert.Single(Assert.Single(result.Routes).Backends).Service);
    }

    [Fact]
    public void BackendRef_ports_are_recorded_for_the_resolver_and_conflicts_reported()
    {
        var ports = new BackendPorts(new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["catalog-v3"] = "grpc" });
        var result = HttpRouteProjection.Project([Route("p", $$"""
            { {{ToCatalog}}, "rules": [
                { "backendRefs": [ { "name": "catalog-v1", "port": 8080 }, { "name": "catalog-v3", "port": 80 } ] },
                { "backendRefs": [ { "name": "catalog-v1", "port": 9090 } ] } ] }
            """)], Catalog, null, "shop", ports);

        Assert.Equal("8080", ports.Get("catalog-v1"));
        Assert.Null(ports.Get("catalog-v3"));
        Assert.Contains(result.Ignored, m => m.Contains("rule 0 backendRef 1: port 80 is not used: the port configured for 'catalog-v3' (grpc) is", StringComparison.Ordinal));
        Assert.Contains(result.Ignored, m => m.Contains("rule 1 backendRef 0: port 9090 is not used: 'catalog-v1' already goes to port 8080", StringComparison.Ordinal));
    }

    [Fact]
    public void Values_beyond_the_mesh_limits_are_capped_and_reported()
    {
        var result = Project(Route("v", $$"""
            { {{ToCatalog}}, "rules": [ { "matches": [ { "headers": [ { "name": "x", "value": "y" } ] } ],
              "backendRefs": [ { "name": "a", "weight": 1000000 }, { "name": "b", "weight": 0 } ],
              "timeouts": { "request": "2h" }, "retry": { "backoff": "1m" } } ] }
            """));

        var route = Assert.Single(result.Routes);
        Assert.Equal(TimeSpan.FromHours(1), route.Timeout);
        Assert.Equal(TimeSpan.FromSeconds(30), route.Retry.Backoff);
        Assert.Equal([1_000_000, 0], route.Backends.Select(b => b.Weight));
        Assert.Equal(2, result.Ignored.Count);
    }
}
