using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Headers;
using Mesh.Client.Diagnostics;
using Mesh.Client.Resilience;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace Mesh.Client.Tests.Resilience;

/// <summary>Hedging (backup requests) on the request path, its delay driven by the fake clock.</summary>
public sealed class HedgingTests
{
    private static readonly TimeSpan s_delay = TimeSpan.FromMilliseconds(100);

    private static RequestPathHost Host(Action<MeshServiceOptions>? configure = null, int endpoints = 2) =>
        RequestPathHost.Create(o =>
        {
            o.Hedging.Enabled = true;
            o.Hedging.Delay = s_delay;
            o.PassiveHealth.ConsecutiveFailures = 1; // a loser counted as failed would be ejected at once
            o.PassiveHealth.MaxEjectionPercent = 100;
            configure?.Invoke(o);
        }, endpoints);

    [Fact]
    public async Task After_the_delay_a_hedge_goes_to_another_endpoint_the_first_good_answer_wins_and_the_loser_is_cancelled_not_failed()
    {
        using var host = Host();
        using var hedges = new MetricCollector<long>(host.Provider.GetRequiredService<IMeterFactory>(), MeshTelemetry.MeterName, MeshInstruments.Hedges);
        host.Handler.Default = Reply.Pending;
        var sent = new HttpRequestMessage(HttpMethod.Get, new Uri("/items", UriKind.Relative));

        var request = host.Client.SendAsync(sent);
        var primary = await host.Handler.WaitForAttemptAsync(1);
        await host.Clock.WaitForTimerAsync(s_delay);
        host.Clock.Advance(s_delay - TimeSpan.FromMilliseconds(1));
        Assert.Single(host.Handler.Attempts); // the hedging delay's timer has not fired

        host.Clock.Advance(TimeSpan.FromMilliseconds(1));
        var hedge = await host.Handler.WaitForAttemptAsync(2);
        Assert.NotEqual(primary.Authority, hedge.Authority);
        hedge.Respond(200);

        using var response = await RequestPathHost.Within(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Same(sent, response.RequestMessage); // the caller sees its own request, not the hedge's copy
        Assert.True(primary.WasCancelled);
        Assert.False(hedge.WasCancelled);
        var loser = host.Endpoint(primary.Authority);
        Assert.Equal(EjectionPhase.None, loser.Health.Phase);
        Assert.Equal(0, loser.Health.ConsecutiveFailures);
        Assert.Equal(0, loser.InFlight);
        Assert.Equal(1, host.AttemptsWithOutcome("canceled"));
        Assert.Equal(1, host.AttemptsWithOutcome("success"));
        Assert.Equal(0, host.AttemptsWithOutcome("timeout") + host.AttemptsWithOutcome("connect_failure") + host.AttemptsWithOutcome("failure_status"));
        Assert.Equal(1, hedges.GetMeasurementSnapshot().Sum(m => m.Value));
    }

    [Fact]
    public async Task A_retryable_failure_does_not_win_the_race_and_the_other_attempts_good_answer_does()
    {
        using var host = Host(o => o.PassiveHealth.ConsecutiveFailures = 5);
        host.Handler.Default = Reply.Pending;

        var request = host.Get();
        var primary = await host.Handler.WaitForAttemptAsync(1);
        await host.Clock.WaitForTimerAsync(s_delay);
        host.Clock.Advance(s_delay);
        var hedge = await host.Handler.WaitForAttemptAsync(2);
        primary.Respond(503); // first to answer, but a failure another attempt may still beat
        await host.Handler.WaitForAttemptAsync(2);
        // The 503 is accounted on its own continuation: wait for it (without blocking a pool thread the continuations
        // need), so the hedge answers second for certain.
        await host.Attempts.WaitForMeasurementsAsync(1, TimeSpan.FromSeconds(30));
        Assert.Equal(1, host.AttemptsWithOutcome("failure_status"));
        Assert.False(request.IsCompleted);
        hedge.Respond(200);

        using var response = await RequestPathHost.Within(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, host.AttemptsWithOutcome("failure_status"));
        Assert.Equal(1, host.Endpoint(primary.Authority).Health.ConsecutiveFailures); // the 503 itself is the endpoint's
    }

    [Fact]
    public async Task A_hedge_of_a_request_with_buffered_content_sends_the_same_body_and_content_headers()
    {
        using var host = Host();
        host.Handler.Default = Reply.Pending;
        var content = new StringContent("{\"sku\":42}", new MediaTypeHeaderValue("application/json"));

        var request = host.Send(HttpMethod.Put, content: content);
        var primary = await host.Handler.WaitForAttemptAsync(1);
        await host.Clock.WaitForTimerAsync(s_delay);
        host.Clock.Advance(s_delay);
        var hedge = await host.Handler.WaitForAttemptAsync(2);
        hedge.Respond(200);
        using var response = await RequestPathHost.Within(request);

        Assert.Equal("{\"sku\":42}", primary.Body);
        Assert.Equal(primary.Body, hedge.Body);
        Assert.Equal(primary.ContentType, hedge.ContentType);
        Assert.Equal(HttpMethod.Put, hedge.Method);
    }

    [Fact]
    public async Task A_non_idempotent_request_is_never_hedged()
    {
        using var host = Host();
        host.Handler.Default = Reply.Pending;

        var request = host.Send(HttpMethod.Post, content: new StringContent("order"));
        var primary = await host.Handler.WaitForAttemptAsync(1);
        await host.Clock.WaitForTimerAsync(s_delay);
        host.Clock.Advance(s_delay);
        // Polly asked for a hedge, the mesh declined, and Polly armed its next delay: the decision has been made.
        await host.Clock.WaitForTimerAsync(s_delay);
        Assert.Single(host.Handler.Attempts);

        primary.Respond(200);
        using var response = await RequestPathHost.Within(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Single(host.Handler.Attempts);
    }

    [Fact]
    public async Task A_post_that_allows_retries_is_hedged()
    {
        using var host = Host();
        host.Handler.Default = Reply.Pending;

        var request = host.Send(HttpMethod.Post, content: new StringContent("order"), allowRetry: true);
        await host.Handler.WaitForAttemptAsync(1);
        await host.Clock.WaitForTimerAsync(s_delay);
        host.Clock.Advance(s_delay);
        var hedge = await host.Handler.WaitForAttemptAsync(2);
        hedge.Respond(200);

        using var response = await RequestPathHost.Within(request);
        Assert.Equal("order", hedge.Body);
    }

    [Fact]
    public async Task Once_enough_latencies_are_recorded_the_hedging_delay_is_their_percentile()
    {
        using var host = Host(o => o.Hedging.DelayPercentile = 50, endpoints: 2);
        // Every answer takes 10 ms of the fake clock: the median latency is 10 ms, far below the 100 ms fixed delay.
        host.Handler.Default = Reply.After(() => host.Clock.Advance(TimeSpan.FromMilliseconds(10)));
        for (int i = 0; i < 100; i++)
        {
            using var warm = await RequestPathHost.Within(host.Get());
        }

        host.Handler.ClearAttempts();
        host.Handler.Default = Reply.Pending;
        var request = host.Get();
        var primary = await host.Handler.WaitForAttemptAsync(1);
        var delay = await host.Clock.WaitForTimerAsync(d => d > TimeSpan.Zero && d < s_delay, "a hedging delay shorter than the fixed one");

        Assert.InRange(delay, TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(15)); // the histogram's bucket holding 10 ms
        host.Clock.Advance(delay);
        var hedge = await host.Handler.WaitForAttemptAsync(2);
        Assert.NotEqual(primary.Authority, hedge.Authority);
        hedge.Respond(200);
        using var response = await RequestPathHost.Within(request);
    }

    [Fact]
    public async Task Before_enough_latencies_are_recorded_the_fixed_delay_applies()
    {
        using var host = Host(o => o.Hedging.DelayPercentile = 50, endpoints: 2);
        host.Handler.Default = Reply.After(() => host.Clock.Advance(TimeSpan.FromMilliseconds(10)));
        for (int i = 0; i < 99; i++)
        {
            using var warm = await RequestPathHost.Within(host.Get());
        }

        host.Handler.ClearAttempts();
        host.Handler.Default = Reply.Pending;
        var request = host.Get();
        await host.Handler.WaitForAttemptAsync(1);
        await host.Clock.WaitForTimerAsync(s_delay);
        host.Clock.Advance(s_delay);
        var hedge = await host.Handler.WaitForAttemptAsync(2);
        hedge.Respond(200);
        using var response = await RequestPathHost.Within(request);
    }

    /// <summary>
    /// The hedging strategy judges each attempt's outcome when that attempt ends, and takes completed attempts in the
    /// order they started, so a 503 judged after a later attempt's 200 must not win: it is held when another attempt is
    /// still out or has already won, and goes to the retry strategy only when neither.
    /// </summary>
    [Theory]
    [InlineData(true, false, true)] // another attempt still out: wait for it
    [InlineData(false, true, true)] // another attempt already won (its 200 ended before this 503 was judged)
    [InlineData(false, false, false)] // nothing out, nothing won: the retry strategy takes the failure at once
    public async Task A_retryable_failure_is_held_while_another_attempt_is_out_or_has_won(bool otherOut, bool otherWon, bool held)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "http://catalog/items");
        var attempts = new RequestAttempts(null!, request, request.RequestUri!, null, (_, _) => Task.FromResult(new HttpResponseMessage()), CancellationToken.None);
        attempts.OnSending(); // this attempt
        attempts.OnSending(); // the other one
        if (!otherOut)
        {
            attempts.OnAnswered(wins: otherWon);
        }

        attempts.OnAnswered(wins: false); // this attempt's 503
        var options = ServicePipeline.Hedges(new HedgingOptions { Enabled = true }, null!, FailureStatusSet.Default);
        var context = Polly.ResilienceContextPool.Shared.Get();
        try
        {
            context.Properties.Set(PipelineKeys.Attempts, attempts);
            using var failure = new HttpResponseMessage(HttpStatusCode.ServiceUnavailable);
            bool handled = await options.ShouldHandle(new Polly.Hedging.HedgingPredicateArguments<HttpResponseMessage>(context, Polly.Outcome.FromResult(failure)));
            Assert.Equal(held, handled);
        }
        finally
        {
            Polly.ResilienceContextPool.Shared.Return(context);
        }
    }
}
