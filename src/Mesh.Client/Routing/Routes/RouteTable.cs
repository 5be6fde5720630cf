using System.Text.RegularExpressions;
using Mesh.Client.Balancing;

namespace Mesh.Client.Routing.Routes;

/// <summary>
/// A service's routes, compiled once per (re)load of its options: every match of every route, sorted by Gateway API
/// HTTPRoute precedence, so the first match that holds is the one the specification says wins. Immutable; read per
/// request without a lock.
/// </summary>
/// <remarks>
/// Precedence, highest first (Gateway API HTTPRoute; regular expressions are left to implementations, and here rank
/// between exact paths and prefixes): an exact path; a regular expression path (longer pattern first); a path prefix
/// (more characters first; no path is the prefix <c>/</c>); a method match; more header matches; more query parameter
/// matches; then the order of routes, and of matches within a route, in configuration.
/// </remarks>
internal sealed class RouteTable
{
    private readonly CompiledMatch[] _matches;

    // The index. It holds the matches of _matches split by path kind, each list in precedence order, so a request tests
    // only the matches its path can satisfy. Exact paths outrank regular expressions, which outrank prefixes, and within
    // each kind only matches with the request's own path (exact) or one of its element boundaries (prefix) can hold;
    // those boundaries are visited longest first, as prefix precedence ranks them. The first match that holds is
    // therefore the first of the whole sorted array that holds.
    private readonly Dictionary<string, CompiledMatch[]>? _exact;
    private readonly CompiledMatch[] _regex;
    private readonly Dictionary<string, CompiledMatch[]>.AlternateLookup<ReadOnlySpan<char>> _prefixes;
    private readonly int[] _prefixLengths; // the distinct lengths of the prefixes (without a trailing '/'), longest first
    private readonly CompiledMatch[]? _fewPrefixes; // all prefix matches in precedence order, when so few that a scan beats hashing

    /// <summary>Up to this many prefix matches are scanned: a few ordinal comparisons cost less than hashing the path's boundaries.</summary>
    private const int MaxScannedPrefixes = 4;

    private RouteTable(CompiledRoute[] routes, CompiledMatch[] matches, RequestHasher? stickyHasher)
    {
        Routes = routes;
        _matches = matches;
        StickyHasher = stickyHasher;

        var exact = new Dictionary<string, List<CompiledMatch>>(StringComparer.Ordinal);
        var regex = new List<CompiledMatch>();
        var prefixes = new Dictionary<string, List<CompiledMatch>>(StringComparer.Ordinal);
        var prefixList = new List<CompiledMatch>();
        foreach (var match in matches) // in precedence order, which every list below keeps
        {
            switch (match.PathType)
            {
                case RoutePathMatchType.Exact:
                    Add(exact, match);
                    break;
                case RoutePathMatchType.RegularExpression:
                    regex.Add(match);
                    break;
                default:
                    Add(prefixes, match);
                    prefixList.Add(match);
                    break;
            }
        }

        _exact = exact.Count == 0 ? null : ToArrays(exact);
        _regex = regex.ToArray();
        _prefixes = ToArrays(prefixes).GetAlternateLookup<ReadOnlySpan<char>>();
        _prefixLengths = prefixes.Keys.Select(p => p.Length).Distinct().OrderDescending().ToArray();
        _fewPrefixes = prefixList.Count <= MaxScannedPrefixes ? prefixList.ToArray() : null;

        static void Add(Dictionary<string, List<CompiledMatch>> index, CompiledMatch match)
        {
            if (!index.TryGetValue(match.Path, out var list))
            {
                index[match.Path] = list = [];
            }

            list.Add(match);
        }

        static Dictionary<string, CompiledMatch[]> ToArrays(Dictionary<string, List<CompiledMatch>> index) =>
            index.ToDictionary(p => p.Key, p => p.Value.ToArray(), StringComparer.Ordinal);
    }

    /// <summary>The routes in configuration order.</summary>
    public IReadOnlyList<CompiledRoute> Routes { get; }

    /// <summary>Computes the hash that keeps a request on one side of a sticky split; null when no route is sticky.</summary>
    public RequestHasher? StickyHasher { get; }

    /// <summary>The table of <paramref name="options"/>' own routes, or null when it has none (the no-route path stays as it was).</summary>
    public static RouteTable? Build(MeshServiceOptions options) => Build(options.Routes.ToArray(), options);

    /// <summary>
    /// The table of <paramref name="source"/> (validated routes), hashing sticky splits with <paramref name="options"/>'
    /// hash policies; null when there are none.
    /// </summary>
    public static RouteTable? Build(IReadOnlyList<MeshRoute> source, MeshServiceOptions options)
    {
        if (source.Count == 0)
        {
            return null;
        }

        var routes = new CompiledRoute[source.Count];
        var matches = new List<CompiledMatch>();
        bool sticky = false;
        for (int r = 0; r < routes.Length; r++)
        {
            var rule = source[r];
            var route = routes[r] = new CompiledRoute(rule);
            sticky |= rule.Sticky;
            if (rule.Matches.Count == 0)
            {
                matches.Add(CompiledMatch.Compile(route, new MeshRouteMatch(), r, 0));
            }

            for (int m = 0; m < rule.Matches.Count; m++)
            {
                matches.Add(CompiledMatch.Compile(route, rule.Matches[m], r, m));
            }
        }

        var sorted = matches.ToArray();
        Array.Sort(sorted, CompiledMatch.Precedence);
        return new RouteTable(routes, sorted, sticky ? new RequestHasher(options.HashPolicies) : null);
    }

    /// <summary>The route of highest precedence whose match holds for <paramref name="request"/>, or null (the service's own endpoints).</summary>
    public CompiledRoute? Match(HttpRequestMessage request)
    {
        var uri = request.RequestUri!;
        string path = uri.AbsolutePath; // cached by Uri after the first read
        if (_exact is not null && _exact.TryGetValue(path, out var exact) && First(exact, request, uri, path) is { } byPath)
        {
            return byPath;
        }

        if (_regex.Length > 0 && First(_regex, request, uri, path) is { } byRegex)
        {
            return byRegex;
        }

        if (_fewPrefixes is not null)
        {
            return First(_fewPrefixes, request, uri, path);
        }

        // A prefix p holds for a path when the path starts with p and ends there or continues with '/': p is the path
        // cut at one of its element boundaries. Only the lengths some prefix has are looked up.
        foreach (int length in _prefixLengths)
        {
            if (length > path.Length || (length < path.Length && path[length] != '/'))
            {
                continue;
            }

            if (_prefixes.TryGetValue(path.AsSpan(0, length), out var prefixed) && First(prefixed, request, uri, path) is { } byPrefix)
            {
                return byPrefix;
            }
        }

        return null;
    }

    /// <summary>
    /// The same answer as <see cref="Match"/> from a scan of every match in precedence order, without the index: the
    /// reference the index is tested against.
    /// </summary>
    internal CompiledRoute? MatchByScan(HttpRequestMessage request)
    {
        var uri = request.RequestUri!;
        return First(_matches, request, uri, uri.AbsolutePath);
    }

    private static CompiledRoute? First(CompiledMatch[] matches, HttpRequestMessage request, Uri uri, string path)
    {
        foreach (var match in matches)
        {
            if (match.Matches(request, uri, path))
            {
                return match.Route;
            }
        }

        return null;
    }
}

/// <summary>One match of one route, compiled: what it compares and where it ranks.</summary>
internal sealed class CompiledMatch
{
    public static readonly Comparer<CompiledMatch> Precedence = Comparer<CompiledMatch>.Create(Compare);

    private readonly RoutePathMatchType _pathType;
    private readonly string _path; // for a prefix: without its trailing '/', so "/" is "" and matches every path
    private readonly Regex? _pathRegex;
    private readonly string? _method;
    private readonly ValueCondition[] _headers;
    private readonly ValueCondition[] _query;
    private readonly int _routeIndex;
    private readonly int _matchIndex;

    private CompiledMatch(CompiledRoute route, RoutePathMatchType pathType, string path, Regex? pathRegex, string? method,
        ValueCondition[] headers, ValueCondition[] query, int routeIndex, int matchIndex)
    {
        Route = route;
        _pathType = pathType;
        _path = path;
        _pathRegex = pathRegex;
        _method = method;
        _headers = headers;
        _query = query;
        _routeIndex = routeIndex;
        _matchIndex = matchIndex;
    }

    public CompiledRoute Route { get; }

    public RoutePathMatchType PathType => _pathType;

    /// <summary>The exact path, the prefix without its trailing '/', or the regular expression's pattern.</summary>
    public string Path => _path;

    public static CompiledMatch Compile(CompiledRoute route, MeshRouteMatch match, int routeIndex, int matchIndex)
    {
        var type = match.Path?.Type ?? RoutePathMatchType.PathPrefix;
        string value = match.Path?.Value ?? "/";
        Regex? regex = null;
        if (type == RoutePathMatchType.RegularExpression)
        {
            regex = MeshRoute.TryCompile(value, out _)!; // validated
        }
        else if (type == RoutePathMatchType.PathPrefix)
        {
            value = value.TrimEnd('/');
        }

        // Gateway API: when a match lists one name twice, only the first counts.
        var headers = match.Headers.DistinctBy(h => h.Name, StringComparer.OrdinalIgnoreCase).Select(ValueCondition.Compile).ToArray();
        var query = match.QueryParameters.DistinctBy(q => q.Name, StringComparer.Ordinal).Select(ValueCondition.Compile).ToArray();
        return new CompiledMatch(route, type, value, regex, match.Method, headers, query, routeIndex, matchIndex);
    }

    public bool Matches(HttpRequestMessage request, Uri uri, string path)
    {
        if (!PathMatches(path))
        {
            return false;
        }

        if (_method is not null && !string.Equals(request.Method.Method, _method, StringComparison.Ordinal))
        {
            return false;
        }

        foreach (var header in _headers)
        {
            if (!header.Holds(HeaderValue(request, header.Name)))
            {
                return false;
            }
        }

        if (_query.Length > 0)
        {
            string query = uri.Query; // cached by Uri
            foreach (var parameter in _query)
            {
                if (!parameter.HoldsQuery(query))
                {
                    return false;
                }
            }
        }

        return true;
    }

    private bool PathMatches(string path)
    {
        switch (_pathType)
        {
            case RoutePathMatchType.Exact:
                return string.Equals(path, _path, StringComparison.Ordinal);
            case RoutePathMatchType.PathPrefix:
                // Element-wise: "/foo" matches "/foo", "/foo/" and "/foo/bar", not "/foobar".
                return path.StartsWith(_path, StringComparison.Ordinal) && (path.Length == _path.Length || path[_path.Length] == '/');
            default:
                return ValueCondition.SafeIsMatch(_pathRegex!, path);
        }
    }

    /// <summary>The header's value (several values joined by <c>", "</c>), from the request's or its content's headers; null when absent.</summary>
    private static string? HeaderValue(HttpRequestMessage request, string name)
    {
        if (request.Headers.NonValidated.TryGetValues(name, out var values)
            || (request.Content is { } content && content.Headers.NonValidated.TryGetValues(name, out values)))
        {
            return values.ToString();
        }

        return null;
    }

    /// <summary>
    /// The first value of parameter <paramref name="name"/> in <paramref name="query"/> (<c>?a=1&amp;b=2</c>), as written
    /// (<paramref name="escaped"/> when it must be decoded); false when absent.
    /// </summary>
    internal static bool TryGetQueryValue(string query, string name, out ReadOnlySpan<char> value, out bool escaped)
    {
        var rest = query.AsSpan();
        if (rest.StartsWith('?'))
        {
            rest = rest[1..];
        }

        while (!rest.IsEmpty)
        {
            int end = rest.IndexOf('&');
            var pair = end < 0 ? rest : rest[..end];
            int eq = pair.IndexOf('=');
            var key = eq < 0 ? pair : pair[..eq];
            if (KeyEquals(key, name))
            {
                value = eq < 0 ? default : pair[(eq + 1)..];
                escaped = value.IndexOfAny('%', '+') >= 0;
                return true;
            }

            if (end < 0)
            {
                break;
            }

            rest = rest[(end + 1)..];
        }

        value = default;
        escaped = false;
        return false;
    }

    private static bool KeyEquals(ReadOnlySpan<char> key, string name) =>
        key.IndexOfAny('%', '+') < 0
            ? key.SequenceEqual(name)
            : string.Equals(Uri.UnescapeDataString(key.ToString().Replace('+', ' ')), name, StringComparison.Ordinal);

    private static int Compare(CompiledMatch? x, CompiledMatch? y)
    {
        int c = Rank(y!._pathType).CompareTo(Rank(x!._pathType));
        if (c == 0 && x._pathType != RoutePathMatchType.Exact)
        {
            c = y._path.Length.CompareTo(x._path.Length);
        }

        if (c == 0)
        {
            c = (y._method is not null).CompareTo(x._method is not null);
        }

        if (c == 0)
        {
            c = y._headers.Length.CompareTo(x._headers.Length);
        }

        if (c == 0)
        {
            c = y._query.Length.CompareTo(x._query.Length);
        }

        if (c == 0)
        {
            c = x._routeIndex.CompareTo(y._routeIndex);
        }

        return c == 0 ? x._matchIndex.CompareTo(y._matchIndex) : c;
    }

    private static int Rank(RoutePathMatchType type) => type switch
    {
        RoutePathMatchType.Exact => 2,
        RoutePathMatchType.RegularExpression => 1,
        _ => 0,
    };
}

/// <summary>A header or query parameter condition: a name and an exact value or a regular expression.</summary>
internal sealed class ValueCondition
{
    private readonly string _value;
    private readonly Regex? _regex;

    private ValueCondition(string name, string value, Regex? regex)
    {
        Name = name;
        _value = value;
        _regex = regex;
    }

    public string Name { get; }

    public static ValueCondition Compile(RouteValueMatch match) =>
        new(match.Name!, match.Value!, match.Type == RouteValueMatchType.RegularExpression ? MeshRoute.TryCompile(match.Value!, out _)! : null);

    /// <summary>Whether this parameter condition holds in <paramref name="query"/>; allocates only for an escaped value.</summary>
    public bool HoldsQuery(string query)
    {
        if (!CompiledMatch.TryGetQueryValue(query, Name, out var raw, out bool escaped))
        {
            return false;
        }

        if (escaped)
        {
            return Holds(Uri.UnescapeDataString(raw.ToString().Replace('+', ' ')));
        }

        return _regex is null ? raw.SequenceEqual(_value) : SafeIsMatch(_regex, raw);
    }

    public bool Holds(string? actual) =>
        actual is not null && (_regex is null ? string.Equals(actual, _value, StringComparison.Ordinal) : SafeIsMatch(_regex, actual));

    /// <summary>A regular expression that runs past its timeout does not match (and does not fail the request).</summary>
    public static bool SafeIsMatch(Regex regex, ReadOnlySpan<char> input)
    {
        try
        {
            return regex.IsMatch(input);
        }
        catch (RegexMatchTimeoutException)
        {
            return false;
        }
    }
}
