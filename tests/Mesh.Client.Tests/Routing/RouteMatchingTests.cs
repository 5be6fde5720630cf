using Mesh.Client.Routing.Routes;

namespace Mesh.Client.Tests.Routing;

/// <summary>
/// Route matching follows Gateway API HTTPRoute semantics (path prefix by element, exact path, regular expressions on
/// the whole path, method, headers with case-insensitive names, query parameters) and its precedence.
/// </summary>
public sealed class RouteMatchingTests
{
    private static MeshRoute Route(string name, params MeshRouteMatch[] matches)
    {
        var route = new MeshRoute { Name = name };
        route.Backends.Add(new MeshRouteBackend { Service = name });
        foreach (var match in matches)
        {
            route.Matches.Add(match);
        }

        return route;
    }

    private static MeshRouteMatch Path(RoutePathMatchType type, string value, string? method = null,
        (string Name, string Value)[]? headers = null, (string Name, string Value)[]? query = null)
    {
        var match = new MeshRouteMatch { Path = new RoutePathMatch { Type = type, Value = value }, Method = method };
        foreach (var (name, v) in headers ?? [])
        {
            match.Headers.Add(new RouteValueMatch { Name = name, Value = v });
        }

        foreach (var (name, v) in query ?? [])
        {
            match.QueryParameters.Add(new RouteValueMatch { Name = name, Value = v });
        }

        return match;
    }

    private static RouteTable Table(params MeshRoute[] routes)
    {
        var options = new MeshServiceOptions();
        foreach (var route in routes)
        {
            options.Routes.Add(route);
        }

        Assert.Empty(options.Validate("Mesh:Services:catalog"));
        return RouteTable.Build(options)!;
    }

    private static string? Match(RouteTable table, string uri, HttpMethod? method = null, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(method ?? HttpMethod.Get, uri);
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return table.Match(request)?.Name;
    }

    [Fact]
    public void A_service_without_routes_has_no_table()
    {
        Assert.Null(RouteTable.Build(new MeshServiceOptions()));
    }

    [Theory]
    [InlineData("/foo", true)]
    [InlineData("/foo/", true)]
    [InlineData("/foo/bar", true)]
    [InlineData("/foobar", false)]
    [InlineData("/fo", false)]
    [InlineData("/", false)]
    public void A_path_prefix_matches_whole_path_elements(string path, bool matches)
    {
        var table = Table(Route("foo", Path(RoutePathMatchType.PathPrefix, "/foo/")));

        Assert.Equal(matches ? "foo" : null, Match(table, "http://catalog" + path));
    }

    [Theory]
    [InlineData("/items", true)]
    [InlineData("/items/", false)]
    [InlineData("/Items", false)]
    [InlineData("/items?x=1", true)]
    public void An_exact_path_matches_only_that_path_case_sensitively_without_the_query(string path, bool matches)
    {
        var table = Table(Route("exact", Path(RoutePathMatchType.Exact, "/items")));

        Assert.Equal(matches ? "exact" : null, Match(table, "http://catalog" + path));
    }

    [Theory]
    [InlineData("/v2/items", true)]
    [InlineData("/v10/items", true)]
    [InlineData("/v2/items/1", false)]
    [InlineData("/x/v2/items", false)]
    public void A_regular_expression_must_match_the_whole_path(string path, bool matches)
    {
        var table = Table(Route("regex", Path(RoutePathMatchType.RegularExpression, "/v[0-9]+/items")));

        Assert.Equal(matches ? "regex" : null, Match(table, "http://catalog" + path));
    }

    [Fact]
    public void An_exact_path_outranks_a_regular_expression_which_outranks_a_prefix_whatever_their_order()
    {
        var table = Table(
            Route("prefix", Path(RoutePathMatchType.PathPrefix, "/items")),
            Route("regex", Path(RoutePathMatchType.RegularExpression, "/items/.*")),
            Route("exact", Path(RoutePathMatchType.Exact, "/items/special")));

        Assert.Equal("exact", Match(table, "http://catalog/items/special"));
        Assert.Equal("regex", Match(table, "http://catalog/items/other"));
        Assert.Equal("prefix", Match(table, "http://catalog/items"));
    }

    [Fact]
    public void The_longer_prefix_wins_over_an_earlier_shorter_one()
    {
        var table = Table(
            Route("short", Path(RoutePathMatchType.PathPrefix, "/api")),
            Route("long", Path(RoutePathMatchType.PathPrefix, "/api/orders")));

        Assert.Equal("long", Match(table, "http://catalog/api/orders/7"));
        Assert.Equal("short", Match(table, "http://catalog/api/items"));
    }

    [Fact]
    public void With_equal_paths_a_method_match_outranks_none_then_more_headers_then_more_query_parameters()
    {
        var table = Table(
            Route("plain", Path(RoutePathMatchType.PathPrefix, "/")),
            Route("query", Path(RoutePathMatchType.PathPrefix, "/", query: [("beta", "1")])),
            Route("one-header", Path(RoutePathMatchType.PathPrefix, "/", headers: [("x-canary", "1")])),
            Route("two-headers", Path(RoutePathMatchType.PathPrefix, "/", headers: [("x-canary", "1"), ("x-user", "ann")])),
            Route("method", Path(RoutePathMatchType.PathPrefix, "/", method: "POST")));

        Assert.Equal("method", Match(table, "http://catalog/a?beta=1", HttpMethod.Post, ("x-canary", "1"), ("x-user", "ann")));
        Assert.Equal("two-headers", Match(table, "http://catalog/a?beta=1", HttpMethod.Get, ("x-canary", "1"), ("x-user", "ann")));
        Assert.Equal("one-header", Match(table, "http://catalog/a?beta=1", HttpMethod.Get, ("x-canary", "1")));
        Assert.Equal("query", Match(table, "http://catalog/a?beta=1"));
        Assert.Equal("plain", Match(table, "http://catalog/a?beta=2"));
    }

    [Fact]
    public void Among_equal_matches_the_first_route_in_configuration_wins()
    {
        var table = Table(
            Route("first", Path(RoutePathMatchType.PathPrefix, "/a")),
            Route("second", Path(RoutePathMatchType.PathPrefix, "/a")));

        Assert.Equal("first", Match(table, "http://catalog/a"));
    }

    [Fact]
    public void A_route_matches_when_any_of_its_matches_holds_and_a_match_needs_all_its_conditions()
    {
        var table = Table(Route("either",
            Path(RoutePathMatchType.Exact, "/one", method: "GET", headers: [("x-a", "1")]),
            Path(RoutePathMatchType.Exact, "/two")));

        Assert.Equal("either", Match(table, "http://catalog/one", HttpMethod.Get, ("x-a", "1")));
        Assert.Equal("either", Match(table, "http://catalog/two", HttpMethod.Delete));
        Assert.Null(Match(table, "http://catalog/one", HttpMethod.Get));
        Assert.Null(Match(table, "http://catalog/one", HttpMethod.Put, ("x-a", "1")));
    }

    [Fact]
    public void Header_names_ignore_case_and_values_do_not()
    {
        var table = Table(Route("canary", Path(RoutePathMatchType.PathPrefix, "/", headers: [("X-Canary", "Yes")])));

        Assert.Equal("canary", Match(table, "http://catalog/", HttpMethod.Get, ("x-canary", "Yes")));
        Assert.Null(Match(table, "http://catalog/", HttpMethod.Get, ("x-canary", "yes")));
        Assert.Null(Match(table, "http://catalog/"));
    }

    [Fact]
    public void Header_and_query_values_may_be_regular_expressions_matching_the_whole_value()
    {
        var match = new MeshRouteMatch();
        match.Headers.Add(new RouteValueMatch { Type = RouteValueMatchType.RegularExpression, Name = "x-user", Value = "[a-m].*" });
        match.QueryParameters.Add(new RouteValueMatch { Type = RouteValueMatchType.RegularExpression, Name = "v", Value = "[0-9]+" });
        var table = Table(Route("regex", match));

        Assert.Equal("regex", Match(table, "http://catalog/?v=12", HttpMethod.Get, ("x-user", "ann")));
        Assert.Null(Match(table, "http://catalog/?v=12", HttpMethod.Get, ("x-user", "zoe")));
        Assert.Null(Match(table, "http://catalog/?v=12a", HttpMethod.Get, ("x-user", "ann")));
    }

    [Theory]
    [InlineData("?beta=on", true)]
    [InlineData("?a=1&beta=on&c", true)]
    [InlineData("?beta=on%20air", false)]
    [InlineData("?beta=off&beta=on", false)] // the first occurrence counts
    [InlineData("?Beta=on", false)] // names are case-sensitive
    [InlineData("?xbeta=on", false)]
    [InlineData("", false)]
    public void Query_parameters_match_by_exact_name_and_first_value(string query, bool matches)
    {
        var table = Table(Route("beta", Path(RoutePathMatchType.PathPrefix, "/", query: [("beta", "on")])));

        Assert.Equal(matches ? "beta" : null, Match(table, "http://catalog/items" + query));
    }

    [Fact]
    public void Escaped_query_values_are_decoded_before_comparing()
    {
        var table = Table(Route("space", Path(RoutePathMatchType.PathPrefix, "/", query: [("q", "a b")])));

        Assert.Equal("space", Match(table, "http://catalog/?q=a%20b"));
        Assert.Equal("space", Match(table, "http://catalog/?q=a+b"));
    }

    [Fact]
    public void A_route_without_matches_takes_every_request_but_ranks_as_the_prefix_slash()
    {
        var table = Table(Route("default"), Route("api", Path(RoutePathMatchType.PathPrefix, "/api")));

        Assert.Equal("api", Match(table, "http://catalog/api/x"));
        Assert.Equal("default", Match(table, "http://catalog/other"));
    }

    [Fact]
    public void Matching_a_path_and_header_route_allocates_nothing()
    {
        var routes = Enumerable.Range(0, 10).Select(i => Route($"r{i}", Path(RoutePathMatchType.PathPrefix, $"/api/v{i}", headers: [("x-canary", "1")]))).ToArray();
        var table = Table(routes);
        using var request = new HttpRequestMessage(HttpMethod.Get, "http://catalog/api/v9/items");
        request.Headers.TryAddWithoutValidation("x-canary", "1");
        Assert.Equal("r9", table.Match(request)?.Name); // warm: Uri caches its path

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            table.Match(request);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
