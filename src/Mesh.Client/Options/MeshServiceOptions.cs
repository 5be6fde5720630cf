namespace Mesh.Client;

/// <summary>
/// How the mesh treats one service: which balancer picks, which resolver finds endpoints, what the Host header says,
/// how long the first request waits for discovery.
/// </summary>
/// <remarks>
/// A service's options are built when a client first uses it, in this order: the defaults below, then configuration
/// <c>Mesh:Services:&lt;service&gt;</c>, then the delegate passed to <c>AddMeshHandler</c> for that client. Invalid
/// values fail application start-up (or the first request, for a service configured only in code) with a message that
/// names the key and the value.
/// </remarks>
public sealed class MeshServiceOptions
{
    /// <summary>
    /// The balancing policy. Default: <see cref="BalancerNames.PeakEwma"/>, which weighs each replica's latency and queue
    /// and so steers away from a slow replica within a few requests (see benchmarks/README.md for the experiment).
    /// </summary>
    public string Balancer { get; set; } = BalancerNames.PeakEwma;

    /// <summary>Settings of <see cref="BalancerNames.PeakEwma"/> (<c>Mesh:Services:&lt;service&gt;:PeakEwma</c>).</summary>
    public PeakEwmaOptions PeakEwma { get; set; } = new();

    /// <summary>Settings of <see cref="BalancerNames.LeastRequest"/> (<c>Mesh:Services:&lt;service&gt;:LeastRequest</c>).</summary>
    public LeastRequestOptions LeastRequest { get; set; } = new();

    /// <summary>Settings of <see cref="BalancerNames.RingHash"/> (<c>Mesh:Services:&lt;service&gt;:RingHash</c>).</summary>
    public RingHashOptions RingHash { get; set; } = new();

    /// <summary>Settings of <see cref="BalancerNames.Maglev"/> (<c>Mesh:Services:&lt;service&gt;:Maglev</c>).</summary>
    public MaglevOptions Maglev { get; set; } = new();

    /// <summary>
    /// Bounded loads for <see cref="BalancerNames.RingHash"/> and <see cref="BalancerNames.Maglev"/>: no endpoint takes more
    /// than this factor times the mean requests in flight; overflow goes on to the next endpoint along the ring or table
    /// (Envoy's <c>hash_balance_factor</c> / 100). At least 1.0, for example 1.25. Default: off (<see langword="null"/>).
    /// Overrides the balancers' own <c>BalanceFactor</c>.
    /// </summary>
    public double? BalanceFactor { get; set; }

    /// <summary>
    /// How a request's hash is computed for <see cref="BalancerNames.RingHash"/> and <see cref="BalancerNames.Maglev"/>
    /// (<c>Mesh:Services:&lt;service&gt;:HashPolicies:&lt;n&gt;</c>); see <see cref="RequestHashPolicy"/>. Empty by default:
    /// a request without <see cref="MeshRequestOptions.HashKey"/> then goes to a random endpoint.
    /// </summary>
    public IList<RequestHashPolicy> HashPolicies { get; } = new List<RequestHashPolicy>();

    /// <summary>
    /// The resolver that owns this service, by name (<c>configuration</c>, <c>static</c>, ...). Default: none, so the
    /// first registered resolver that knows the name wins.
    /// </summary>
    public string? Resolver { get; set; }

    /// <summary>The Host header policy. Default: <see cref="HostHeaderPolicy.Endpoint"/>.</summary>
    public HostHeaderPolicy HostHeader { get; set; } = HostHeaderPolicy.Endpoint;

    /// <summary>
    /// How long the first request to a service waits for its first resolution before failing with
    /// <see cref="ResolutionTimeoutException"/>. Later requests never wait. Default: 5 seconds.
    /// </summary>
    public TimeSpan ResolutionTimeout { get; set; } = TimeSpan.FromSeconds(5);

    // ---- Health and resilience (Health/, Resilience/): one options object per policy, bound as sub-sections. ----

    /// <summary>Passive failure accounting and ejection (<c>PassiveHealth</c>). On by default.</summary>
    public PassiveHealthOptions PassiveHealth { get; } = new();

    /// <summary>Background heartbeats (<c>HealthCheck</c>). Off unless <see cref="ActiveHealthCheckOptions.Path"/> is set.</summary>
    public ActiveHealthCheckOptions HealthCheck { get; } = new();

    /// <summary>The panic threshold (<c>Panic</c>). Default: below 50 % available, route to all.</summary>
    public PanicOptions Panic { get; } = new();

    /// <summary>Slow start for new and re-admitted endpoints (<c>SlowStart</c>). Off by default.</summary>
    public SlowStartOptions SlowStart { get; } = new();

    /// <summary>Retries to other endpoints under a budget (<c>Retry</c>). On by default for idempotent requests.</summary>
    public RetryOptions Retry { get; private set; } = new();

    /// <summary>Hedged (backup) attempts (<c>Hedging</c>). Off by default.</summary>
    public HedgingOptions Hedging { get; } = new();

    /// <summary>Attempt, total and wait-for-endpoint timeouts (<c>Timeouts</c>).</summary>
    public TimeoutOptions Timeouts { get; private set; } = new();

    /// <summary>
    /// Ordered routing rules for requests to this service (<c>Routes:&lt;n&gt;</c>): matches on path, method, headers and
    /// query parameters, weighted backends, per-route timeouts and retries. Empty by default: every request goes to this
    /// service's own endpoints. See <see cref="MeshRoute"/> and docs/routing.md.
    /// </summary>
    public IList<MeshRoute> Routes { get; } = new List<MeshRoute>();

    /// <summary>
    /// These options as a route's backend: the same in every respect but the route's timeout and retry overrides.
    /// The copy shares every other settings object with this one (options are not changed after they are built).
    /// </summary>
    internal MeshServiceOptions WithRouteOverrides(MeshRoute route)
    {
        var copy = (MeshServiceOptions)MemberwiseClone();
        var timeouts = Timeouts.Clone();
        timeouts.Total = route.Timeout ?? timeouts.Total;
        timeouts.Attempt = route.AttemptTimeout ?? timeouts.Attempt;
        var retry = Retry.Clone();
        retry.Enabled = route.Retry.Enabled ?? retry.Enabled;
        retry.MaxAttempts = route.Retry.MaxAttempts ?? retry.MaxAttempts;
        retry.SameEndpointBackoff = route.Retry.Backoff ?? retry.SameEndpointBackoff;
        retry.StatusCodes = route.Retry.StatusCodes ?? retry.StatusCodes;
        copy.Timeouts = timeouts;
        copy.Retry = retry;
        return copy;
    }

    /// <summary>
    /// Adds strategies to the pipeline each attempt runs through, inside the attempt timeout and after the endpoint is
    /// chosen: a rate limiter or circuit breaker per endpoint, for example (read the endpoint from
    /// <see cref="MeshResilienceProperties.Endpoint"/>). A strategy that refuses an attempt (an
    /// <see cref="Polly.ExecutionRejectedException"/>) does not count against the endpoint, and the attempt may be retried
    /// on another. Set in code (<c>AddMeshHandler(o =&gt; o.AttemptPipeline = b =&gt; ...)</c>); configuration cannot bind it.
    /// </summary>
    public Action<Polly.ResiliencePipelineBuilder<HttpResponseMessage>>? AttemptPipeline { get; set; }

    /// <summary>
    /// Checks every value; returns one message per bad value, each naming <paramref name="keyPrefix"/> plus the key
    /// and quoting the value.
    /// </summary>
    /// <param name="keyPrefix">Where these options came from, e.g. <c>Mesh:Services:catalog</c>.</param>
    /// <param name="balancers">The balancer names services may select; <see langword="null"/> skips that check.</param>
    /// <param name="resolvers">The names of the registered resolvers; <see langword="null"/> skips that check.</param>
    internal IReadOnlyList<string> Validate(string keyPrefix, IReadOnlyList<string>? balancers = null, IReadOnlyList<string>? resolvers = null)
    {
        var errors = new List<string>();
        if (balancers is not null && !balancers.Contains(Balancer ?? string.Empty, StringComparer.OrdinalIgnoreCase))
        {
            errors.Add(Bad(keyPrefix, nameof(Balancer), Balancer, $"one of {string.Join(", ", balancers)}"));
        }

        ValidateBalancing(keyPrefix, errors);

        if (!Enum.IsDefined(HostHeader))
        {
            errors.Add(Bad(keyPrefix, nameof(HostHeader), HostHeader, $"one of {string.Join(", ", Enum.GetNames<HostHeaderPolicy>())}"));
        }

        if (Resolver is not null && string.IsNullOrWhiteSpace(Resolver))
        {
            errors.Add(Bad(keyPrefix, nameof(Resolver), Resolver, "a resolver name, or absent"));
        }
        else if (Resolver is not null && resolvers is not null && !resolvers.Contains(Resolver, StringComparer.OrdinalIgnoreCase))
        {
            errors.Add(Bad(keyPrefix, nameof(Resolver), Resolver,
                resolvers.Count == 0 ? "the name of a registered resolver, and none is registered" : $"one of the registered resolvers: {string.Join(", ", resolvers)}"));
        }

        if (ResolutionTimeout <= TimeSpan.Zero || ResolutionTimeout > TimeSpan.FromMinutes(10))
        {
            errors.Add(Bad(keyPrefix, nameof(ResolutionTimeout), ResolutionTimeout, "greater than 0 and at most 00:10:00"));
        }

        PassiveHealth.Validate($"{keyPrefix}:{nameof(PassiveHealth)}", errors);
        HealthCheck.Validate($"{keyPrefix}:{nameof(HealthCheck)}", errors);
        Panic.Validate($"{keyPrefix}:{nameof(Panic)}", errors);
        SlowStart.Validate($"{keyPrefix}:{nameof(SlowStart)}", errors);
        Retry.Validate($"{keyPrefix}:{nameof(Retry)}", errors);
        Hedging.Validate($"{keyPrefix}:{nameof(Hedging)}", errors);
        Timeouts.Validate($"{keyPrefix}:{nameof(Timeouts)}", errors);
        ValidateRoutes(keyPrefix, errors);
        return errors;
    }

    private void ValidateRoutes(string keyPrefix, List<string> errors) => ValidateRoutes(keyPrefix, Routes.ToArray(), errors);

    /// <summary>Checks a list of routes as configuration's are checked; one message per bad value, each naming <paramref name="keyPrefix"/><c>:Routes:n</c> and the key.</summary>
    internal static List<string> ValidateRoutes(string keyPrefix, IReadOnlyList<MeshRoute> routes)
    {
        var errors = new List<string>();
        ValidateRoutes(keyPrefix, routes, errors);
        return errors;
    }

    private static void ValidateRoutes(string keyPrefix, IReadOnlyList<MeshRoute> routes, List<string> errors)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < routes.Count; i++)
        {
            string at = $"{keyPrefix}:{nameof(Routes)}:{i}";
            var route = routes[i];
            if (route is null)
            {
                errors.Add(Bad(keyPrefix, $"{nameof(Routes)}:{i}", null, "a route, not null"));
                continue;
            }

            route.Validate(at, errors);
            if (!string.IsNullOrWhiteSpace(route.Name) && !names.Add(route.Name))
            {
                errors.Add(Bad(at, nameof(MeshRoute.Name), route.Name, "a name no earlier route of the service has"));
            }
        }
    }

    private void ValidateBalancing(string keyPrefix, List<string> errors)
    {
        if (PeakEwma is null)
        {
            errors.Add(Bad(keyPrefix, nameof(PeakEwma), null, "settings, not null"));
        }
        else
        {
            PeakEwma.Validate($"{keyPrefix}:{nameof(PeakEwma)}", errors);
        }

        if (LeastRequest is null)
        {
            errors.Add(Bad(keyPrefix, nameof(LeastRequest), null, "settings, not null"));
        }
        else
        {
            LeastRequest.Validate($"{keyPrefix}:{nameof(LeastRequest)}", errors);
        }

        if (RingHash is null)
        {
            errors.Add(Bad(keyPrefix, nameof(RingHash), null, "settings, not null"));
        }
        else
        {
            RingHash.Validate($"{keyPrefix}:{nameof(RingHash)}", errors);
        }

        if (Maglev is null)
        {
            errors.Add(Bad(keyPrefix, nameof(Maglev), null, "settings, not null"));
        }
        else
        {
            Maglev.Validate($"{keyPrefix}:{nameof(Maglev)}", errors);
        }

        MeshServiceOptions.ValidateBalanceFactor(keyPrefix, BalanceFactor, errors);
        for (int i = 0; i < HashPolicies.Count; i++)
        {
            if (HashPolicies[i] is null)
            {
                errors.Add(Bad(keyPrefix, $"{nameof(HashPolicies)}:{i}", null, "a hash policy, not null"));
            }
            else
            {
                HashPolicies[i].Validate($"{keyPrefix}:{nameof(HashPolicies)}:{i}", errors);
            }
        }
    }

    /// <summary>
    /// Checks one <c>Mesh:Services:&lt;name&gt;</c> section as configuration gives it, before any client's delegate: keys
    /// that name no setting, enums given as numbers, values the binder cannot convert, then every value. Start-up and a
    /// reload check a section with this, so a rejected reload says what start-up would have said.
    /// </summary>
    internal static IReadOnlyList<string> CheckConfiguration(Microsoft.Extensions.Configuration.IConfigurationSection service,
        IReadOnlyList<string>? balancers, IReadOnlyList<string>? resolvers)
    {
        var errors = new List<string>();
        MeshConfigurationKeys.CheckService(service, errors);
        var options = new MeshServiceOptions();
        if (TryBind(service, options) is { } bindingError)
        {
            errors.Add(bindingError);
            return errors;
        }

        errors.AddRange(options.Validate(service.Path, balancers, resolvers));
        return errors;
    }

    /// <summary>Binds <paramref name="section"/> into <paramref name="options"/>; returns the binder's message when a value cannot be converted.</summary>
    internal static string? TryBind(Microsoft.Extensions.Configuration.IConfigurationSection section, MeshServiceOptions options)
    {
        try
        {
            Microsoft.Extensions.Configuration.ConfigurationBinder.Bind(section, options);
            return null;
        }
        catch (InvalidOperationException ex)
        {
            return ex.InnerException is null ? ex.Message : $"{ex.Message} {ex.InnerException.Message}";
        }
    }

    /// <summary>Bounded loads' factor: absent (off), or 1.0 to 100 (Envoy's <c>hash_balance_factor</c> is at least 1).</summary>
    internal static void ValidateBalanceFactor(string keyPrefix, double? factor, List<string> errors)
    {
        if (factor is { } f && !(f >= 1.0 && f <= 100.0))
        {
            errors.Add(Bad(keyPrefix, "BalanceFactor", f, "absent (off), or a number from 1.0 to 100 such as 1.25"));
        }
    }

    /// <summary>Formats one validation error: <c>'prefix:Key' is 'value'; expected ...</c>.</summary>
    internal static string Bad(string keyPrefix, string key, object? value, string expected) =>
        $"'{keyPrefix}:{key}' is '{value}'; expected {expected}.";
}
