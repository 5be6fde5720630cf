using Mesh.Client.Routing.Routes;

namespace Mesh.Client.Tests.Routing;

/// <summary>
/// The route table's index (exact paths by path, prefixes by element boundary, regular expressions in order) must give
/// the same route as a scan of every match in precedence order. Random rule sets and requests from a small vocabulary,
/// so paths, prefixes and conditions collide often; fixed seeds, so a failure reproduces.
/// </summary>
public sealed class RouteIndexTests
{
    private static readonly string[] Segments = ["a", "b", "ab", "api", "v1", ""];
    private static readonly string[] Regexes = ["/a/.*", "/[ab]+", "/api/v[0-9]+(/.*)?", ".*", "/b/?"];
    private static readonly string[] Methods = ["GET", "POST", "PUT"];
    private static readonly (string Name, string Value)[] Headers = [("x-a", "1"), ("x-a", "2"), ("x-b", "1"), ("X-B", "2")];
    private static readonly (string Name, string Value)[] Query = [("q", "1"), ("q", "2"), ("r", "1")];

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void The_index_picks_the_route_a_scan_in_precedence_order_picks(int seed)
    {
        var random = new Random(seed);
        for (int table = 0; table < 200; table++)
        {
            var options = RandomOptions(random);
            Assert.Empty(options.Validate("Mesh:Services:catalog"));
            var routes = RouteTable.Build(options)!;
            for (int r = 0; r < 50; r++)
            {
                using var request = RandomRequest(random);
                var expected = routes.MatchByScan(request);
                var actual = routes.Match(request);
                Assert.True(ReferenceEquals(expected, actual),
                    $"seed {seed}, table {table}: {request.Method} {request.RequestUri} matched {actual?.Name ?? "nothing"}, the scan {expected?.Name ?? "nothing"}");
            }
        }
    }

    [Fact]
    public void Random_tables_exercise_every_kind_of_answer()
    {
        // Guards the test above against a vocabulary where nothing (or always the same kind) matches.
        var random = new Random(1);
        int none = 0, exact = 0, regex = 0, prefix = 0;
        for (int table = 0; table < 200; table++)
        {
            var routes = RouteTable.Build(RandomOptions(random))!;
            for (int r = 0; r < 50; r++)
            {
                using var request = RandomRequest(random);
                var route = routes.MatchByScan(request);
                if (route is null)
                {
                    none++;
                    continue;
                }

                var kind = route.Name.Split('-')[1];
                exact += kind == "Exact" ? 1 : 0;
                regex += kind == "RegularExpression" ? 1 : 0;
                prefix += kind == "PathPrefix" ? 1 : 0;
            }
        }

        Assert.All(new[] { none, exact, regex, prefix }, count => Assert.True(count > 100, $"none {none}, exact {exact}, regex {regex}, prefix {prefix}"));
    }

    private static MeshServiceOptions RandomOptions(Random random)
    {
        var options = new MeshServiceOptions();
        int routes = random.Next(1, 12);
        for (int r = 0; r < routes; r++)
        {
            // The route's name says the path kind of its first match, for the coverage test.
            var first = RandomMatch(random);
            var route = new MeshRoute { Name = $"r{r}-{first?.Path?.Type.ToString() ?? "PathPrefix"}" };
            route.Backends.Add(new MeshRouteBackend { Service = "backend" });
            if (first is not null)
            {
                route.Matches.Add(first);
                int more = random.Next(3);
                for (int m = 0; m < more; m++)
                {
                    route.Matches.Add(RandomMatch(random) ?? new MeshRouteMatch());
                }
            }

            options.Routes.Add(route);
        }

        return options;
    }

    /// <summary>A random match; null now and then for a route without matches.</summary>
    private static MeshRouteMatch? RandomMatch(Random random)
    {
        if (random.Next(12) == 0)
        {
            return null;
        }

        var match = new MeshRouteMatch();
        switch (random.Next(5))
        {
            case 0:
                match.Path = new RoutePathMatch { Type = RoutePathMatchType.Exact, Value = RandomPath(random) };
                break;
            case 1:
                match.Path = new RoutePathMatch { Type = RoutePathMatchType.RegularExpression, Value = Regexes[random.Next(Regexes.Length)] };
                break;
            case 2:
                break; // no path: the prefix "/"
            default:
                match.Path = new RoutePathMatch { Type = RoutePathMatchType.PathPrefix, Value = RandomPath(random) };
                break;
        }

        if (random.Next(3) == 0)
        {
            match.Method = Methods[random.Next(Methods.Length)];
        }

        for (int h = random.Next(3); h > 0; h--)
        {
            var (name, value) = Headers[random.Next(Headers.Length)];
            match.Headers.Add(new RouteValueMatch { Name = name, Value = value });
        }

        for (int q = random.Next(3); q > 0; q--)
        {
            var (name, value) = Query[random.Next(Query.Length)];
            match.QueryParameters.Add(new RouteValueMatch { Name = name, Value = value });
        }

        return match;
    }

    /// <summary>"/", "/a", "/a/", "/api/v1", "/a//b"...: element boundaries, trailing slashes and empty elements.</summary>
    private static string RandomPath(Random random)
    {
        int depth = random.Next(4);
        var path = string.Empty;
        for (int i = 0; i < depth; i++)
        {
            path += "/" + Segments[random.Next(Segments.Length)];
        }

        return path.Length == 0 || random.Next(4) == 0 ? path + "/" : path;
    }

    private static HttpRequestMessage RandomRequest(Random random)
    {
        string query = string.Empty;
        for (int q = random.Next(3); q > 0; q--)
        {
            var (name, value) = Query[random.Next(Query.Length)];
            query += (query.Length == 0 ? "?" : "&") + name + "=" + value;
        }

        string path = RandomPath(random);
        if (random.Next(8) == 0)
        {
            path += Segments[random.Next(Segments.Length)]; // "/ab" against the prefix "/a": not an element boundary
        }

        var request = new HttpRequestMessage(new HttpMethod(Methods[random.Next(Methods.Length)]), "http://catalog" + path + query);
        for (int h = random.Next(3); h > 0; h--)
        {
            var (name, value) = Headers[random.Next(Headers.Length)];
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return request;
    }
}
