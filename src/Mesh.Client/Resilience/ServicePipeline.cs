using Microsoft.Extensions.Logging;
using Polly;
using Polly.Hedging;
using Polly.Retry;
using Polly.Telemetry;
using Polly.Timeout;

namespace Mesh.Client.Resilience;

/// <summary>
/// A service's retries, hedging and timeouts as one Polly v8 pipeline, built from its options (and built again when they
/// change). From the outside in:
/// <list type="number">
/// <item>total timeout (<see cref="TimeoutOptions.Total"/>);</item>
/// <item>retry (<see cref="RetryOptions"/>): the mesh's rules, the retry budget, another endpoint each time, Retry-After;</item>
/// <item>hedging (<see cref="HedgingOptions"/>): each hedge on an endpoint not yet tried, paid from the retry budget;</item>
/// <item>the attempt (<see cref="AttemptStrategy"/>): pick, lease, classify, account;</item>
/// <item>attempt timeout (<see cref="TimeoutOptions.Attempt"/>);</item>
/// <item>the user's per-attempt strategies (<see cref="MeshServiceOptions.AttemptPipeline"/>);</item>
/// <item>the send.</item>
/// </list>
/// </summary>
/// <remarks>
/// Polly's telemetry (the <c>Polly</c> meter, resilience event logs) names the pipeline <c>Mesh.Client/&lt;service&gt;</c>
/// with the client as its instance, and carries <c>server.address</c>/<c>server.port</c> of the attempt's endpoint.
/// </remarks>
internal sealed class ServicePipeline
{
    private static readonly Func<ResilienceContext, RequestAttempts, ValueTask<Outcome<HttpResponseMessage>>> s_send = SendAsync;

    private readonly ResiliencePipeline<HttpResponseMessage> _pipeline;
    private readonly IAttemptHost _host;
    private readonly MeshServiceOptions _options;

    public ServicePipeline(IAttemptHost host, MeshServiceOptions options, string clientName, TimeProvider timeProvider, ILoggerFactory? loggerFactory)
    {
        _host = host;
        _options = options;
        // This pipeline's own status rules: a request keeps the rules it started with when the options reload.
        FailureStatuses = new FailureStatusSet(options.PassiveHealth.FailureStatusCodes, options.PassiveHealth.AllServerErrorsAreFailures,
            options.PassiveHealth.FailureGrpcStatusCodes, options.Retry.StatusCodes);
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage>
        {
            Name = $"Mesh.Client/{host.ServiceName}",
            InstanceName = clientName,
            TimeProvider = timeProvider,
        };

        if (loggerFactory is not null)
        {
            var telemetry = new TelemetryOptions { LoggerFactory = loggerFactory };
            telemetry.MeteringEnrichers.Add(EndpointEnricher.Instance);
            builder.ConfigureTelemetry(telemetry);
        }

        var timeouts = options.Timeouts;
        if (timeouts.Total != Timeout.InfiniteTimeSpan)
        {
            builder.AddTimeout(new TimeoutStrategyOptions { Name = "Total", Timeout = timeouts.Total });
        }

        builder.AddStrategy(_ => new RequestScopeStrategy(), new MeshStrategyOptions("RequestScope"));
        if (options.Retry is { Enabled: true, MaxAttempts: > 1 })
        {
            builder.AddRetry(Retries(options.Retry, host, FailureStatuses, timeProvider));
        }

        if (options.Hedging.Enabled && options.Hedging.MaxAttempts > 1)
        {
            builder.AddHedging(Hedges(options.Hedging, host, FailureStatuses));
        }

        builder.AddStrategy(_ => new AttemptStrategy(host, FailureStatuses, options.Retry, timeProvider, timeouts.Attempt), new MeshStrategyOptions("Attempt"));
        if (timeouts.Attempt != Timeout.InfiniteTimeSpan)
        {
            builder.AddTimeout(new TimeoutStrategyOptions { Name = "Attempt", Timeout = timeouts.Attempt });
        }

        options.AttemptPipeline?.Invoke(builder);
        _pipeline = builder.Build();

        // Without these, the first attempt is sent outside the pipeline (with its attempt timeout) and only a failure enters it.
        SendsFirstAttempt = options.Hedging.Enabled || timeouts.Total != Timeout.InfiniteTimeSpan || options.AttemptPipeline is not null;
    }

    /// <summary>
    /// Whether every attempt, the first included, goes through the pipeline. Otherwise the first attempt is sent directly
    /// (as cheaply as a plain send) and the pipeline runs only when it fails.
    /// </summary>
    public bool SendsFirstAttempt { get; }

    /// <summary>Which statuses count against an endpoint, as the options this pipeline was built from say.</summary>
    public FailureStatusSet FailureStatuses { get; }

    /// <summary>Runs <paramref name="attempts"/> through the pipeline; returns the response or throws the last failure.</summary>
    public async Task<HttpResponseMessage> ExecuteAsync(RequestAttempts attempts)
    {
        var context = ResilienceContextPool.Shared.Get(attempts.CallerToken);
        context.Properties.Set(PipelineKeys.Attempts, attempts);
        context.Properties.Set(MeshResilienceProperties.ServiceName, _host.ServiceName);
        try
        {
            var outcome = await _pipeline.ExecuteOutcomeAsync(s_send, context, attempts).ConfigureAwait(false);
            if (outcome.Exception is TimeoutRejectedException total && !attempts.CallerToken.IsCancellationRequested)
            {
                throw AttemptClassification.TotalTimeout(_host.ServiceName, _options.Timeouts.Total, total);
            }

            if (outcome.Exception is ExecutionRejectedException rejected)
            {
                // A strategy added per attempt (a breaker, a limiter) refused the last attempt: callers see an HttpRequestException.
                throw new MeshException(_host.ServiceName,
                    $"Service '{_host.ServiceName}': the last attempt was refused by a strategy of the attempt pipeline ({rejected.GetType().Name}): {rejected.Message}",
                    rejected);
            }

            outcome.ThrowIfException();
            var response = outcome.Result!;
            response.RequestMessage = attempts.Request; // a hedge's clone answered: the caller sees its own request
            return response;
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
            attempts.Request.RequestUri = attempts.LogicalUri;
            attempts.DisposeClones();
        }
    }

    private static async ValueTask<Outcome<HttpResponseMessage>> SendAsync(ResilienceContext context, RequestAttempts attempts)
    {
        var message = context.Properties.GetValue(PipelineKeys.Message, null) ?? attempts.Request;
        context.Properties.Set(PipelineKeys.Sent, true);
        try
        {
            return Outcome.FromResult(await attempts.Send(message, context.CancellationToken).ConfigureAwait(false));
        }
        catch (Exception ex)
        {
            return Outcome.FromException<HttpResponseMessage>(ex);
        }
    }

    private static RetryStrategyOptions<HttpResponseMessage> Retries(RetryOptions retry, IAttemptHost host, FailureStatusSet statuses, TimeProvider timeProvider) => new()
    {
        Name = "Retry",
        MaxRetryAttempts = retry.MaxAttempts - 1,
        Delay = TimeSpan.Zero,
        BackoffType = DelayBackoffType.Constant,
        UseJitter = false,
        ShouldHandle = args => new(ShouldRetry(args, retry, host, statuses, timeProvider)),
        DelayGenerator = args => new(args.Context.Properties.GetValue(PipelineKeys.Attempts, null!).RetryDelay),
        OnRetry = args =>
        {
            var attempts = args.Context.Properties.GetValue(PipelineKeys.Attempts, null!);
            host.OnRetry(attempts.LastEndpoint, attempts.LastOutcome, nextAttempt: attempts.Attempts + 1);
            return default;
        },
    };

    /// <summary>
    /// The mesh's retry rule: a retryable failure (<see cref="AttemptClassification.IsRetryable"/>) of a request that may
    /// be sent again (an idempotent method or <see cref="MeshRequestOptions.AllowRetry"/>, content that can be replayed),
    /// while attempts remain, an endpoint can take it, and the budget allows. Another endpoint if one is left, at once;
    /// otherwise the same one after Retry-After (at most <see cref="RetryOptions.MaxRetryAfter"/>) or a jittered backoff.
    /// </summary>
    private static bool ShouldRetry(RetryPredicateArguments<HttpResponseMessage> args, RetryOptions retry, IAttemptHost host, FailureStatusSet statuses,
        TimeProvider timeProvider)
    {
        var attempts = args.Context.Properties.GetValue(PipelineKeys.Attempts, null!);
        if (args.AttemptNumber + 1 >= retry.MaxAttempts || attempts.RequestToken.IsCancellationRequested
            || !AttemptClassification.IsRetryable(args.Outcome, statuses))
        {
            return false;
        }

        // A request that never left the client may go elsewhere whatever its method, and its content was never read.
        if (!AttemptClassification.NeverLeft(args.Outcome) && (!attempts.Replayable || !RetryPolicy.MethodAllows(attempts.Request)))
        {
            return false;
        }

        var next = attempts.PickNext(allowRepeat: false);
        var delay = TimeSpan.Zero;
        if (next is null)
        {
            var retryAfter = RetryPolicy.RetryAfter(args.Outcome.Result, timeProvider);
            if (retryAfter > retry.MaxRetryAfter)
            {
                return false;
            }

            next = attempts.PickNext(allowRepeat: true);
            if (next is null)
            {
                return false;
            }

            delay = retryAfter ?? RetryPolicy.Backoff(retry.SameEndpointBackoff, attempts.SameEndpointRetries++);
        }

        if (!host.RetryBudget.TryWithdraw())
        {
            next.Health.ReleaseProbe();
            host.OnRetryBudgetExhausted();
            return false;
        }

        attempts.Plan(next);
        attempts.RetryDelay = delay;
        return true;
    }

    internal static HedgingStrategyOptions<HttpResponseMessage> Hedges(HedgingOptions hedging, IAttemptHost host, FailureStatusSet statuses) => new()
    {
        Name = "Hedging",
        MaxHedgedAttempts = hedging.MaxAttempts - 1,
        Delay = hedging.Delay,
        DelayGenerator = hedging.DelayPercentile is { } percentile
            ? _ => new(host.Latency?.GetPercentile(percentile) ?? hedging.Delay)
            : null,
        // A retryable failure does not win while another attempt is still out (hedging waits for it) or after another
        // attempt's answer has won: this outcome may be judged after that one ended, and hedging takes completed
        // attempts in the order they started. With none out and no winner, the failure goes to the retry strategy at
        // once, which starts a fresh attempt with a fresh hedge of its own; a failure handled here would instead spend
        // this request's hedge at once, leaving a later stall unhedged.
        ShouldHandle = args => new(AttemptClassification.IsRetryable(args.Outcome, statuses)
            && args.Context.Properties.GetValue(PipelineKeys.Attempts, null!) is { } attempts && (attempts.InFlight > 0 || attempts.HasWinner)),
        ActionGenerator = args =>
        {
            var attempts = args.PrimaryContext.Properties.GetValue(PipelineKeys.Attempts, null!);
            if (!attempts.CanHedge || attempts.RequestToken.IsCancellationRequested)
            {
                return null;
            }

            var next = attempts.PickNext(allowRepeat: false);
            if (next is null)
            {
                attempts.CanHedge = false; // nowhere else to go: stop hedging this request
                return null;
            }

            if (!host.RetryBudget.TryWithdraw())
            {
                next.Health.ReleaseProbe();
                host.OnRetryBudgetExhausted();
                attempts.CanHedge = false;
                return null;
            }

            host.OnHedge(attempt: attempts.Attempts + 1);
            args.ActionContext.Properties.Set(PipelineKeys.Message, attempts.CloneForHedge());
            args.ActionContext.Properties.Set(PipelineKeys.Planned, next);
            return () => args.Callback(args.ActionContext);
        },
    };

    private sealed class MeshStrategyOptions : ResilienceStrategyOptions
    {
        public MeshStrategyOptions(string name) => Name = name;
    }

    /// <summary>Adds the attempt's endpoint to Polly's metrics, as OpenTelemetry's HTTP client conventions name it.</summary>
    private sealed class EndpointEnricher : MeteringEnricher
    {
        public static readonly EndpointEnricher Instance = new();

        public override void Enrich<TResult, TArgs>(in EnrichmentContext<TResult, TArgs> context)
        {
            var properties = context.TelemetryEvent.Context.Properties;
            if (properties.TryGetValue(MeshResilienceProperties.ServiceName, out var service))
            {
                context.Tags.Add(new("mesh.service", service));
            }

            if (properties.TryGetValue(MeshResilienceProperties.Endpoint, out var endpoint))
            {
                context.Tags.Add(new("server.address", endpoint.Host));
                context.Tags.Add(new("server.port", endpoint.Port));
            }
        }
    }
}
