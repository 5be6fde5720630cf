using System.Net;
using Mesh.Client.Diagnostics;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using System.Diagnostics.Metrics;

namespace Mesh.Client.Tests.Resilience;

/// <summary>
/// The retry rules of docs/resilience.md, on the request path as users build it (DI, <c>AddMeshHandler</c>), with an
/// in-memory handler answering per endpoint and the clock driven by the test.
/// </summary>
public sealed class RetryRulesTests
{
    private static RequestPathHost Host(Action<MeshServiceOptions>? configure = null, int endpoints = 3) =>
        RequestPathHost.Create(o =>
        {
            o.PassiveHealth.Enabled = false; // these tests count attempts; ejections would only change where they go
            configure?.Invoke(o);
        }, endpoints);

    [Fact]
    public async Task A_retry_goes_to_an_endpoint_the_request_has_not_tried()
    {
        using var host = Host(o => o.Retry.MaxAttempts = 3);
        host.Handler.Default = Reply.Status(503);

        using var response = await RequestPathHost.Within(host.Get());

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode); // the last response, when retries stop
        var authorities = host.Handler.Attempts.Select(a => a.Authority).ToArray();
        Assert.Equal(3, authorities.Length);
        Assert.Equal(3, authorities.Distinct().Count());
        Assert.All(host.Handler.Attempts, a => Assert.Equal("/items", a.Uri.AbsolutePath));
    }

    [Fact]
    public async Task A_retry_after_a_failure_succeeds_on_another_endpoint_and_the_caller_sees_only_the_success()
    {
        using var host = Host(o => o.Retry.MaxAttempts = 2, endpoints: 2);
        host.Handler.Default = Reply.Pending;
        var request = host.Get();
        var first = await host.Handler.WaitForAttemptAsync(1);
        first.Respond(503);
        var second = await host.Handler.WaitForAttemptAsync(2);
        second.Respond(200);

        using var response = await RequestPathHost.Within(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, host.Handler.Attempts.Count);
        Assert.NotEqual(first.Authority, second.Authority);
    }

    public static TheoryData<string, int> Methods => new()
    {
        { "GET", 2 }, { "HEAD", 2 }, { "OPTIONS", 2 }, { "PUT", 2 }, { "DELETE", 2 }, { "TRACE", 2 },
        { "POST", 1 }, { "PATCH", 1 },
    };

    [Theory]
    [MemberData(nameof(Methods))]
    public async Task Only_idempotent_methods_are_retried(string method, int expectedAttempts)
    {
        using var host = Host(o => o.Retry.MaxAttempts = 2);
        host.Handler.Default = Reply.Status(503);

        using var response = await RequestPathHost.Within(host.Send(new HttpMethod(method)));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(expectedAttempts, host.Handler.Attempts.Count);
        Assert.All(host.Handler.Attempts, a => Assert.Equal(method, a.Method.Method));
    }

    [Fact]
    public async Task AllowRetry_true_lets_a_post_be_retried_and_false_keeps_a_get_from_being_retried()
    {
        using var host = Host(o => o.Retry.MaxAttempts = 2);
        host.Handler.Default = Reply.Status(503);

        using (var post = await RequestPathHost.Within(host.Send(HttpMethod.Post, content: new StringContent("order"), allowRetry: true)))
        {
            Assert.Equal(2, host.Handler.Attempts.Count);
            Assert.All(host.Handler.Attempts, a => Assert.Equal("order", a.Body));
        }

        host.Handler.ClearAttempts();
        using (var get = await RequestPathHost.Within(host.Send(HttpMethod.Get, allowRetry: false)))
        {
            Assert.Single(host.Handler.Attempts);
        }
    }

    [Fact]
    public async Task A_post_whose_content_is_a_non_rewindable_stream_is_not_retried_even_when_allowed()
    {
        using var host = Host(o => o.Retry.MaxAttempts = 3);
        host.Handler.Default = Reply.Status(503);
        var content = new StreamContent(new ForwardOnlyStream("payload"u8.ToArray()));

        using var response = await RequestPathHost.Within(host.Send(HttpMethod.Post, content: content, allowRetry: true));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var attempt = Assert.Single(host.Handler.Attempts);
        Assert.Equal("payload", attempt.Body);
    }

    [Fact]
    public async Task Stream_content_of_known_length_is_buffered_and_every_retry_sends_the_whole_body()
    {
        using var host = Host(o => o.Retry.MaxAttempts = 3);
        host.Handler.Default = Reply.Status(503);
        var content = new StreamContent(new MemoryStream("payload"u8.ToArray()));

        using var response = await RequestPathHost.Within(host.Send(HttpMethod.Put, content: content));

        Assert.Equal(3, host.Handler.Attempts.Count);
        Assert.All(host.Handler.Attempts, a => Assert.Equal("payload", a.Body));
    }

    [Theory]
    [InlineData(502, 2)]
    [InlineData(503, 2)]
    [InlineData(504, 2)]
    [InlineData(500, 1)]
    [InlineData(404, 1)]
    [InlineData(429, 1)]
    public async Task Gateway_failures_are_retried_and_application_answers_are_not(int status, int expectedAttempts)
    {
        using var host = Host(o => o.Retry.MaxAttempts = 2);
        host.Handler.Default = Reply.Status(status);

        using var response = await RequestPathHost.Within(host.Get());

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal(expectedAttempts, host.Handler.Attempts.Count);
    }

    [Fact]
    public async Task A_500_counted_as_a_failure_is_still_not_retried()
    {
        using var host = RequestPathHost.Create(o =>
        {
            o.Retry.MaxAttempts = 3;
            o.PassiveHealth.AllServerErrorsAreFailures = true;
        });
        host.Handler.Default = Reply.Status(500);

        using var response = await RequestPathHost.Within(host.Get());

        Assert.Single(host.Handler.Attempts);
        Assert.Equal(1, host.AttemptsWithOutcome("failure_status")); // counted against the endpoint...
        Assert.Equal(1, host.Endpoint(host.Handler.Attempts[0].Authority).Health.ConsecutiveFailures); // ...but the application's answer
    }

    [Theory]
    [InlineData(500, 3)]
    [InlineData(429, 3)]
    [InlineData(503, 1)] // replaced, not added to: a list names every status retried
    public async Task Retry_StatusCodes_lists_the_statuses_retried_whether_or_not_they_count_against_the_endpoint(int status, int expectedAttempts)
    {
        using var host = Host(o =>
        {
            o.Retry.MaxAttempts = 3;
            o.Retry.StatusCodes = [500, 429];
        });
        host.Handler.Default = Reply.Status(status);

        using var response = await RequestPathHost.Within(host.Get());

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal(expectedAttempts, host.Handler.Attempts.Count);
        Assert.Equal(expectedAttempts, host.Handler.Attempts.Select(a => a.Authority).Distinct().Count()); // each on another endpoint
    }

    [Fact]
    public async Task A_connect_failure_is_retried_on_another_endpoint()
    {
        using var host = Host(o => o.Retry.MaxAttempts = 2, endpoints: 2);
        host.Handler.Default = Reply.ConnectFailure;

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => RequestPathHost.Within(host.Get()));

        Assert.Equal(HttpRequestError.ConnectionError, error.HttpRequestError); // the last failure is the caller's
        Assert.Equal(2, host.Handler.Attempts.Select(a => a.Authority).Distinct().Count());
        Assert.Equal(2, host.AttemptsWithOutcome("connect_failure"));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task MaxAttempts_bounds_the_attempts_of_one_request(int maxAttempts)
    {
        using var host = Host(o => o.Retry.MaxAttempts = maxAttempts);
        host.Handler.Default = Reply.Status(503);

        using var response = await RequestPathHost.Within(host.Get());

        Assert.Equal(maxAttempts, host.Handler.Attempts.Count);
    }

    [Fact]
    public async Task An_exhausted_retry_budget_stops_retries_and_each_refusal_is_counted()
    {
        // 50 % of requests, no reserve: each request deposits half a retry. Time does not move, so nothing expires.
        using var host = Host(o =>
        {
            o.Retry.MaxAttempts = 2;
            o.Retry.BudgetPercent = 50;
            o.Retry.MinRetriesPerSecond = 0;
        });
        using var exhausted = new MetricCollector<long>(host.Provider.GetRequiredService<IMeterFactory>(), MeshTelemetry.MeterName,
            MeshInstruments.RetryBudgetExhausted);
        host.Handler.Default = Reply.Status(503);

        var attempts = new List<int>();
        for (int i = 0; i < 3; i++)
        {
            host.Handler.ClearAttempts();
            using var response = await RequestPathHost.Within(host.Get());
            attempts.Add(host.Handler.Attempts.Count);
        }

        Assert.Equal([1, 2, 1], attempts); // 0.5 → refused; 1.0 → one retry paid; 0.5 → refused
        Assert.Equal(2, exhausted.GetMeasurementSnapshot().Sum(m => m.Value));
    }

    [Fact]
    public async Task Retry_After_is_waited_on_the_clock_before_the_only_endpoint_is_tried_again()
    {
        using var host = Host(o => o.Retry.MaxAttempts = 2, endpoints: 1);
        host.Handler.Then(RequestPathHost.Addresses[0], Reply.Status(503, retryAfter: TimeSpan.FromSeconds(2)), Reply.Ok);

        var request = host.Get();
        await host.Handler.WaitForAttemptAsync(1);
        await host.Clock.WaitForTimerAsync(TimeSpan.FromSeconds(2));
        host.Clock.Advance(TimeSpan.FromMilliseconds(1999));

        Assert.Single(host.Handler.Attempts); // the retry's delay has not elapsed: no timer fired, so no second attempt
        Assert.False(request.IsCompleted);

        host.Clock.Advance(TimeSpan.FromMilliseconds(1));
        using var response = await RequestPathHost.Within(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, host.Handler.Attempts.Count);
        Assert.Equal(host.Handler.Attempts[0].Authority, host.Handler.Attempts[1].Authority);
    }

    [Fact]
    public async Task Retry_After_does_not_delay_a_retry_that_can_go_to_another_endpoint()
    {
        using var host = Host(o => o.Retry.MaxAttempts = 2, endpoints: 2);
        host.Handler.Default = Reply.Status(503, retryAfter: TimeSpan.FromSeconds(2));

        // The clock never moves: a retry waiting for Retry-After could not end.
        using var response = await RequestPathHost.Within(host.Get());

        Assert.Equal(2, host.Handler.Attempts.Select(a => a.Authority).Distinct().Count());
    }

    [Fact]
    public async Task Retry_After_longer_than_MaxRetryAfter_is_returned_to_the_caller_without_a_retry()
    {
        using var host = Host(o =>
        {
            o.Retry.MaxAttempts = 3;
            o.Retry.MaxRetryAfter = TimeSpan.FromSeconds(3);
        }, endpoints: 1);
        host.Handler.Default = Reply.Status(503, retryAfter: TimeSpan.FromSeconds(10));

        using var response = await RequestPathHost.Within(host.Get());

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(10), response.Headers.RetryAfter?.Delta);
        Assert.Single(host.Handler.Attempts);
    }

    [Theory]
    [InlineData(false)] // the first attempt outside the pipeline
    [InlineData(true)]  // every attempt inside it (an attempt timeout puts the first one there too)
    public async Task A_caller_cancelling_is_not_counted_against_the_endpoint_and_not_retried(bool throughPipeline)
    {
        using var host = RequestPathHost.Create(o =>
        {
            o.Retry.MaxAttempts = 3;
            o.PassiveHealth.ConsecutiveFailures = 1; // one counted failure would eject
            o.PassiveHealth.MaxEjectionPercent = 100;
            if (throughPipeline)
            {
                o.Timeouts.Attempt = TimeSpan.FromSeconds(30);
            }
        });
        host.Handler.Default = Reply.Pending;
        using var cts = new CancellationTokenSource();

        var request = host.Get(cancellationToken: cts.Token);
        var attempt = await host.Handler.WaitForAttemptAsync(1);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => RequestPathHost.Within(request));
        Assert.True(attempt.WasCancelled);
        Assert.Single(host.Handler.Attempts);
        var endpoint = host.Endpoint(attempt.Authority);
        Assert.Equal(EjectionPhase.None, endpoint.Health.Phase);
        Assert.Equal(0, endpoint.Health.ConsecutiveFailures);
        Assert.Equal(1, host.AttemptsWithOutcome("canceled"));
        Assert.Equal(0, host.AttemptsWithOutcome("timeout") + host.AttemptsWithOutcome("connect_failure") + host.AttemptsWithOutcome("failure_status"));
        Assert.Equal(0, endpoint.InFlight);
    }

    /// <summary>A stream that can be read once, forward only, with no length: what a request body piped from elsewhere looks like.</summary>
    private sealed class ForwardOnlyStream(byte[] data) : Stream
    {
        private readonly MemoryStream _inner = new(data);

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
