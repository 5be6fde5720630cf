using System.Text.RegularExpressions;

namespace Mesh.Client;

/// <summary>
/// One rule of a service's traffic policy (<c>Mesh:Services:&lt;service&gt;:Routes:&lt;n&gt;</c>): requests that match
/// any of its <see cref="Matches"/> go to one of its <see cref="Backends"/>, picked by weight, with the route's own
/// timeouts and retries. Match semantics and precedence are the Gateway API HTTPRoute's; see docs/routing.md.
/// </summary>
public sealed class MeshRoute
{
    /// <summary>The route's name, as metrics (<c>mesh.route</c>) and traces show it. Required, unique within the service.</summary>
    public string? Name { get; set; }

    /// <summary>
    /// Conditions, any of which selects this route (each one's conditions all hold). None: the route matches every
    /// request (as a Gateway API rule without matches, a path prefix of <c>/</c>).
    /// </summary>
    public IList<MeshRouteMatch> Matches { get; } = new List<MeshRouteMatch>();

    /// <summary>Where matching requests go: logical mesh services with integer weights. At least one.</summary>
    public IList<MeshRouteBackend> Backends { get; } = new List<MeshRouteBackend>();

    /// <summary>
    /// Keep a request with the same hash (the service's <see cref="MeshServiceOptions.HashPolicies"/>, or
    /// <see cref="MeshRequestOptions.HashKey"/>) on the same backend of the split. Default: <see langword="false"/>
    /// (each request is picked at random by weight).
    /// </summary>
    public bool Sticky { get; set; }

    /// <summary>The request timeout through this route, every attempt included (overrides <see cref="TimeoutOptions.Total"/>).</summary>
    public TimeSpan? Timeout { get; set; }

    /// <summary>The timeout of one attempt through this route (overrides <see cref="TimeoutOptions.Attempt"/>).</summary>
    public TimeSpan? AttemptTimeout { get; set; }

    /// <summary>Retry overrides for this route (<c>Retry</c>); unset values keep the backend service's.</summary>
    public MeshRouteRetry Retry { get; } = new();

    /// <summary>Whether the route changes the backend's timeouts or retries.</summary>
    internal bool HasOverrides => Timeout is not null || AttemptTimeout is not null || Retry.HasOverrides;

    internal void Validate(string prefix, List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(Name))
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(Name), Name, "a route name (it tags metrics and traces)"));
        }

        for (int i = 0; i < Matches.Count; i++)
        {
            if (Matches[i] is null)
            {
                errors.Add(MeshServiceOptions.Bad(prefix, $"{nameof(Matches)}:{i}", null, "a match, not null"));
            }
            else
            {
                Matches[i].Validate($"{prefix}:{nameof(Matches)}:{i}", errors);
            }
        }

        if (Backends.Count == 0)
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(Backends), null, "at least one backend, such as Backends:0:Service"));
        }

        long total = 0;
        for (int i = 0; i < Backends.Count; i++)
        {
            var backend = Backends[i];
            string at = $"{prefix}:{nameof(Backends)}:{i}";
            if (backend is null)
            {
                errors.Add(MeshServiceOptions.Bad(prefix, $"{nameof(Backends)}:{i}", null, "a backend, not null"));
                continue;
            }

            if (string.IsNullOrWhiteSpace(backend.Service))
            {
                errors.Add(MeshServiceOptions.Bad(at, nameof(MeshRouteBackend.Service), backend.Service, "the name of a mesh service"));
            }
            else if (Uri.CheckHostName(backend.Service) == UriHostNameType.Unknown)
            {
                errors.Add(MeshServiceOptions.Bad(at, nameof(MeshRouteBackend.Service), backend.Service, "a service name that is a valid host name, such as catalog-v2"));
            }

            if (backend.Weight is < 0 or > MeshRouteBackend.MaxWeight)
            {
                errors.Add(MeshServiceOptions.Bad(at, nameof(MeshRouteBackend.Weight), backend.Weight, $"0 to {MeshRouteBackend.MaxWeight}"));
            }
            else
            {
                total += backend.Weight;
            }
        }

        if (Backends.Count > 0 && total == 0)
        {
            errors.Add(MeshServiceOptions.Bad(prefix, $"{nameof(Backends)}:0:{nameof(MeshRouteBackend.Weight)}", 0, "weights that are not all 0"));
        }

        CheckTimeout(prefix, nameof(Timeout), Timeout, errors);
        CheckTimeout(prefix, nameof(AttemptTimeout), AttemptTimeout, errors);
        Retry.Validate($"{prefix}:{nameof(Retry)}", errors);
    }

    private static void CheckTimeout(string prefix, string key, TimeSpan? value, List<string> errors)
    {
        if (value is { } v && v != System.Threading.Timeout.InfiniteTimeSpan && (v <= TimeSpan.Zero || v > TimeSpan.FromHours(1)))
        {
            errors.Add(MeshServiceOptions.Bad(prefix, key, v, "absent, greater than 0 and at most 01:00:00, or -00:00:00.001 (infinite)"));
        }
    }

    /// <summary>How long a regular expression of a route may run on one request before the match fails.</summary>
    internal static readonly TimeSpan RegexTimeout = TimeSpan.FromMilliseconds(100);

    /// <summary>Compiles <paramref name="pattern"/> as a full match; null with a message when it is not a valid expression.</summary>
    internal static Regex? TryCompile(string pattern, out string? error)
    {
        try
        {
            error = null;
            return new Regex($"^(?:{pattern})$", RegexOptions.CultureInvariant | RegexOptions.Compiled, RegexTimeout);
        }
        catch (ArgumentException ex)
        {
            error = ex.Message;
            return null;
        }
    }
}

/// <summary>
/// One match of a <see cref="MeshRoute"/>: every condition set here must hold (<c>Routes:&lt;n&gt;:Matches:&lt;m&gt;</c>).
/// </summary>
public sealed class MeshRouteMatch
{
    /// <summary>The path condition. Absent: any path (a prefix of <c>/</c>).</summary>
    public RoutePathMatch? Path { get; set; }

    /// <summary>The HTTP method, such as <c>GET</c> (compared exactly, as Gateway API does). Absent: any method.</summary>
    public string? Method { get; set; }

    /// <summary>Request headers that must match (names ignore case).</summary>
    public IList<RouteValueMatch> Headers { get; } = new List<RouteValueMatch>();

    /// <summary>Query parameters that must match (names are case-sensitive).</summary>
    public IList<RouteValueMatch> QueryParameters { get; } = new List<RouteValueMatch>();

    internal void Validate(string prefix, List<string> errors)
    {
        if (Path is { } path)
        {
            string at = $"{prefix}:{nameof(Path)}";
            if (!Enum.IsDefined(path.Type))
            {
                errors.Add(MeshServiceOptions.Bad(at, nameof(RoutePathMatch.Type), path.Type, $"one of {string.Join(", ", Enum.GetNames<RoutePathMatchType>())}"));
            }
            else if (path.Type == RoutePathMatchType.RegularExpression)
            {
                if (path.Value is null || MeshRoute.TryCompile(path.Value, out var error) is null)
                {
                    errors.Add(MeshServiceOptions.Bad(at, nameof(RoutePathMatch.Value), path.Value, "a valid .NET regular expression"));
                }
            }
            else if (path.Value is null || !path.Value.StartsWith('/'))
            {
                errors.Add(MeshServiceOptions.Bad(at, nameof(RoutePathMatch.Value), path.Value, "a path starting with '/'"));
            }
        }

        if (Method is not null && (Method.Length == 0 || Method.Any(c => c <= ' ' || c >= 127)))
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(Method), Method, "an HTTP method such as GET, or absent"));
        }

        ValidateValues($"{prefix}:{nameof(Headers)}", Headers, errors);
        ValidateValues($"{prefix}:{nameof(QueryParameters)}", QueryParameters, errors);
    }

    private static void ValidateValues(string prefix, IList<RouteValueMatch> matches, List<string> errors)
    {
        for (int i = 0; i < matches.Count; i++)
        {
            string at = $"{prefix}:{i}";
            var match = matches[i];
            if (match is null)
            {
                errors.Add($"'{at}' is ''; expected a match with a Name and a Value.");
                continue;
            }

            if (string.IsNullOrWhiteSpace(match.Name))
            {
                errors.Add(MeshServiceOptions.Bad(at, nameof(RouteValueMatch.Name), match.Name, "a name"));
            }

            if (!Enum.IsDefined(match.Type))
            {
                errors.Add(MeshServiceOptions.Bad(at, nameof(RouteValueMatch.Type), match.Type, $"one of {string.Join(", ", Enum.GetNames<RouteValueMatchType>())}"));
            }
            else if (match.Value is null)
            {
                errors.Add(MeshServiceOptions.Bad(at, nameof(RouteValueMatch.Value), null, "the value to match"));
            }
            else if (match.Type == RouteValueMatchType.RegularExpression && MeshRoute.TryCompile(match.Value, out _) is null)
            {
                errors.Add(MeshServiceOptions.Bad(at, nameof(RouteValueMatch.Value), match.Value, "a valid .NET regular expression"));
            }
        }
    }
}

/// <summary>A path condition of a <see cref="MeshRouteMatch"/>.</summary>
public sealed class RoutePathMatch
{
    /// <summary>How <see cref="Value"/> is compared. Default: <see cref="RoutePathMatchType.PathPrefix"/>.</summary>
    public RoutePathMatchType Type { get; set; } = RoutePathMatchType.PathPrefix;

    /// <summary>The path, prefix or regular expression (matched against the whole path, without the query).</summary>
    public string? Value { get; set; }
}

/// <summary>How a <see cref="RoutePathMatch"/> compares the path.</summary>
public enum RoutePathMatchType
{
    /// <summary>Path elements: <c>/foo</c> matches <c>/foo</c>, <c>/foo/</c> and <c>/foo/bar</c>, not <c>/foobar</c>.</summary>
    PathPrefix,

    /// <summary>The whole path, case-sensitive.</summary>
    Exact,

    /// <summary>A .NET regular expression matching the whole path.</summary>
    RegularExpression,
}

/// <summary>A header or query parameter condition of a <see cref="MeshRouteMatch"/>.</summary>
public sealed class RouteValueMatch
{
    /// <summary>How <see cref="Value"/> is compared. Default: <see cref="RouteValueMatchType.Exact"/>.</summary>
    public RouteValueMatchType Type { get; set; } = RouteValueMatchType.Exact;

    /// <summary>The header or query parameter name.</summary>
    public string? Name { get; set; }

    /// <summary>The value (exact, case-sensitive) or a regular expression matching the whole value.</summary>
    public string? Value { get; set; }
}

/// <summary>How a <see cref="RouteValueMatch"/> compares a value.</summary>
public enum RouteValueMatchType
{
    /// <summary>Equal, case-sensitive.</summary>
    Exact,

    /// <summary>A .NET regular expression matching the whole value.</summary>
    RegularExpression,
}

/// <summary>One backend of a <see cref="MeshRoute"/>: a logical mesh service and its weight.</summary>
public sealed class MeshRouteBackend
{
    internal const int MaxWeight = 1_000_000;

    /// <summary>The mesh service requests go to (its own resolver, balancer and health), such as <c>catalog-v2</c>.</summary>
    public string? Service { get; set; }

    /// <summary>The share of requests, relative to the route's other backends: 0 to 1,000,000. Default: 1.</summary>
    public int Weight { get; set; } = 1;
}

/// <summary>Retry overrides of a <see cref="MeshRoute"/>; unset values keep the backend service's <see cref="RetryOptions"/>.</summary>
public sealed class MeshRouteRetry
{
    /// <summary>Whether requests through the route are retried.</summary>
    public bool? Enabled { get; set; }

    /// <summary>The most attempts per request, the first included: 1 to 8.</summary>
    public int? MaxAttempts { get; set; }

    /// <summary>The pause before retrying an endpoint already tried (doubled per retry, jittered).</summary>
    public TimeSpan? Backoff { get; set; }

    /// <summary>The response statuses retried through this route, 400 to 599 (replaces <see cref="RetryOptions.StatusCodes"/>).</summary>
    public IList<int>? StatusCodes { get; set; }

    internal bool HasOverrides => Enabled is not null || MaxAttempts is not null || Backoff is not null || StatusCodes is not null;

    internal void Validate(string prefix, List<string> errors)
    {
        if (MaxAttempts is { } attempts && attempts is < 1 or > RetryOptions.MaxAttemptsLimit)
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(MaxAttempts), attempts, $"1 to {RetryOptions.MaxAttemptsLimit}"));
        }

        if (Backoff is { } backoff && (backoff < TimeSpan.Zero || backoff > TimeSpan.FromSeconds(30)))
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(Backoff), backoff, "00:00:00 to 00:00:30"));
        }

        RetryOptions.ValidateStatusCodes(prefix, StatusCodes, errors);
    }
}
