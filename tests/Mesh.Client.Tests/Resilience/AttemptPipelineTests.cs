using System.Collections.Concurrent;
using System.Net;
using Polly;
using Polly.CircuitBreaker;

namespace Mesh.Client.Tests.Resilience;

/// <summary>Strategies users add to every attempt (<see cref="MeshServiceOptions.AttemptPipeline"/>).</summary>
public sealed class AttemptPipelineTests
{
    [Fact]
    public async Task An_attempt_a_user_strategy_rejects_is_not_counted_against_its_endpoint_and_is_retried_elsewhere()
    {
        var seen = new ConcurrentQueue<EndpointAddress?>();
        using var host = RequestPathHost.Create(o =>
        {
            o.Retry.MaxAttempts = 2;
            o.PassiveHealth.ConsecutiveFailures = 1; // a counted rejection would eject
            o.PassiveHealth.MaxEjectionPercent = 100;
            o.AttemptPipeline = b => b.AddStrategy(_ => new RejectFirstStrategy(seen), new RejectFirstOptions());
        });

        using var response = await RequestPathHost.Within(host.Get());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var endpoints = seen.ToArray();
        Assert.Equal(2, endpoints.Length);
        var rejected = Assert.IsType<EndpointAddress>(endpoints[0]);
        var sent = Assert.Single(host.Handler.Attempts); // the rejected attempt never reached the handler
        Assert.NotEqual(rejected.Authority, sent.Authority);
        Assert.Equal(sent.Authority, endpoints[1]!.Authority);

        var endpoint = host.Endpoint(rejected.Authority);
        Assert.Equal(EjectionPhase.None, endpoint.Health.Phase);
        Assert.Equal(0, endpoint.Health.ConsecutiveFailures);
        Assert.Equal(0, endpoint.InFlight);
        Assert.Equal(0, host.AttemptsWithOutcome("connect_failure") + host.AttemptsWithOutcome("timeout") + host.AttemptsWithOutcome("failure_status"));
    }

    [Fact]
    public async Task An_isolated_circuit_breaker_rejects_every_attempt_without_any_reaching_or_counting_against_an_endpoint()
    {
        var breaker = new CircuitBreakerManualControl();
        using var host = RequestPathHost.Create(o =>
        {
            o.Retry.MaxAttempts = 3;
            o.PassiveHealth.ConsecutiveFailures = 1;
            o.PassiveHealth.MaxEjectionPercent = 100;
            o.AttemptPipeline = b => b.AddCircuitBreaker(new CircuitBreakerStrategyOptions<HttpResponseMessage> { ManualControl = breaker });
        });
        using (var warm = await RequestPathHost.Within(host.Get()))
        {
            Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
        }

        await breaker.IsolateAsync();
        host.Handler.ClearAttempts();

        // The caller sees an HttpRequestException (the mesh's), the breaker's refusal inside it.
        var refused = await Assert.ThrowsAsync<MeshException>(() => RequestPathHost.Within(host.Get()));
        Assert.IsType<IsolatedCircuitException>(refused.InnerException);

        Assert.Empty(host.Handler.Attempts);
        foreach (var endpoint in host.State.Endpoints.Endpoints)
        {
            Assert.Equal(EjectionPhase.None, endpoint.Health.Phase);
            Assert.Equal(0, endpoint.Health.ConsecutiveFailures);
        }

        await breaker.CloseAsync();
        using var response = await RequestPathHost.Within(host.Get());
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task A_user_strategy_sees_each_attempts_endpoint_and_the_service_name()
    {
        var seen = new ConcurrentQueue<(string? Service, EndpointAddress? Endpoint)>();
        using var host = RequestPathHost.Create(o =>
        {
            o.Retry.MaxAttempts = 3;
            o.PassiveHealth.Enabled = false;
            o.AttemptPipeline = b => b.AddStrategy(_ => new ObservingStrategy(seen), new RejectFirstOptions());
        });
        host.Handler.Default = Reply.Status(503);

        using var response = await RequestPathHost.Within(host.Get());

        Assert.Equal(
            host.Handler.Attempts.Select(a => a.Authority).ToArray(),
            seen.Select(s => s.Endpoint?.Authority).ToArray());
        Assert.Equal(3, seen.Count);
        Assert.All(seen, s => Assert.Equal("catalog", s.Service));
    }

    private sealed class RejectFirstOptions : ResilienceStrategyOptions;

    private sealed class EndpointRejectedException(string message) : ExecutionRejectedException(message);

    /// <summary>Refuses the first attempt it sees (as a per-endpoint limiter would), records where each went.</summary>
    private sealed class RejectFirstStrategy(ConcurrentQueue<EndpointAddress?> seen) : ResilienceStrategy<HttpResponseMessage>
    {
        protected override ValueTask<Outcome<HttpResponseMessage>> ExecuteCore<TState>(
            Func<ResilienceContext, TState, ValueTask<Outcome<HttpResponseMessage>>> callback, ResilienceContext context, TState state)
        {
            var endpoint = context.Properties.GetValue(MeshResilienceProperties.Endpoint, null!);
            seen.Enqueue(endpoint);
            return seen.Count == 1
                ? new(Outcome.FromException<HttpResponseMessage>(new EndpointRejectedException($"{endpoint} is over its limit")))
                : callback(context, state);
        }
    }

    private sealed class ObservingStrategy(ConcurrentQueue<(string?, EndpointAddress?)> seen) : ResilienceStrategy<HttpResponseMessage>
    {
        protected override ValueTask<Outcome<HttpResponseMessage>> ExecuteCore<TState>(
            Func<ResilienceContext, TState, ValueTask<Outcome<HttpResponseMessage>>> callback, ResilienceContext context, TState state)
        {
            seen.Enqueue((context.Properties.GetValue(MeshResilienceProperties.ServiceName, null!),
                context.Properties.GetValue(MeshResilienceProperties.Endpoint, null!)));
            return callback(context, state);
        }
    }
}
