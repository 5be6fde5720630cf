using System.Net;

namespace Mesh.Client.Tests.Resilience;

/// <summary>Attempt and total timeouts on the request path, on the fake clock.</summary>
public sealed class TimeoutTests
{
    private static readonly TimeSpan s_attempt = TimeSpan.FromSeconds(1);

    private static RequestPathHost Host(Action<MeshServiceOptions> configure, int endpoints = 2) =>
        RequestPathHost.Create(o =>
        {
            o.PassiveHealth.ConsecutiveFailures = 10; // count, never eject
            configure(o);
        }, endpoints);

    [Fact]
    public async Task An_attempt_timeout_counts_as_a_timeout_of_that_endpoint_and_the_retry_goes_to_another()
    {
        using var host = Host(o =>
        {
            o.Timeouts.Attempt = s_attempt;
            o.Retry.MaxAttempts = 2;
        });
        host.Handler.Default = Reply.Pending;

        var request = host.Get();
        var first = await host.Handler.WaitForAttemptAsync(1);
        await host.Clock.WaitForTimerAsync(s_attempt);
        host.Clock.Advance(s_attempt - TimeSpan.FromMilliseconds(1));
        Assert.Single(host.Handler.Attempts);
        Assert.False(first.Token.IsCancellationRequested);

        host.Clock.Advance(TimeSpan.FromMilliseconds(1));
        var second = await host.Handler.WaitForAttemptAsync(2);
        Assert.True(first.WasCancelled);
        Assert.NotEqual(first.Authority, second.Authority);
        Assert.Equal(1, host.Endpoint(first.Authority).Health.ConsecutiveFailures);
        Assert.Equal(1, host.AttemptsWithOutcome("timeout"));

        second.Respond(200);
        using var response = await RequestPathHost.Within(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(0, host.Endpoint(second.Authority).Health.ConsecutiveFailures);
    }

    [Fact]
    public async Task When_every_attempt_times_out_the_caller_sees_TaskCanceledException_with_a_TimeoutException_naming_Timeouts_Attempt()
    {
        using var host = Host(o =>
        {
            o.Timeouts.Attempt = s_attempt;
            o.Retry.MaxAttempts = 2;
        });
        host.Handler.Default = Reply.Pending;

        var request = host.Get();
        for (int i = 1; i <= 2; i++)
        {
            await host.Handler.WaitForAttemptAsync(i);
            await host.Clock.WaitForTimerAsync(s_attempt);
            host.Clock.Advance(s_attempt);
        }

        var error = await Assert.ThrowsAsync<TaskCanceledException>(() => RequestPathHost.Within(request));
        Assert.Contains("Timeouts:Attempt", error.Message, StringComparison.Ordinal);
        Assert.Contains("'catalog'", error.Message, StringComparison.Ordinal);
        var timeout = Assert.IsType<TimeoutException>(error.InnerException);
        Assert.Contains("Timeouts:Attempt", timeout.Message, StringComparison.Ordinal);
        Assert.Equal(2, host.AttemptsWithOutcome("timeout"));
        Assert.All(host.Handler.Attempts, a => Assert.True(a.WasCancelled));
    }

    [Fact]
    public async Task A_total_timeout_ends_the_request_with_TaskCanceledException_naming_Timeouts_Total_and_stops_retrying()
    {
        using var host = Host(o =>
        {
            o.Timeouts.Attempt = s_attempt;
            o.Timeouts.Total = TimeSpan.FromMilliseconds(1500);
            o.Retry.MaxAttempts = 3;
        }, endpoints: 3);
        host.Handler.Default = Reply.Pending;

        var request = host.Get();
        await host.Handler.WaitForAttemptAsync(1);
        await host.Clock.WaitForTimerAsync(TimeSpan.FromMilliseconds(1500));
        await host.Clock.WaitForTimerAsync(s_attempt);
        host.Clock.Advance(s_attempt); // the first attempt times out; the retry starts
        var second = await host.Handler.WaitForAttemptAsync(2);
        await host.Clock.WaitForTimerAsync(s_attempt);
        host.Clock.Advance(TimeSpan.FromMilliseconds(500)); // the total runs out during the second attempt

        var error = await Assert.ThrowsAsync<TaskCanceledException>(() => RequestPathHost.Within(request));
        Assert.Contains("Timeouts:Total", error.Message, StringComparison.Ordinal);
        var timeout = Assert.IsType<TimeoutException>(error.InnerException);
        Assert.Contains("Timeouts:Total", timeout.Message, StringComparison.Ordinal);
        Assert.True(second.WasCancelled);
        Assert.Equal(2, host.Handler.Attempts.Count); // no attempt after the total ran out
    }

    [Fact]
    public async Task A_total_timeout_alone_ends_a_hung_first_attempt()
    {
        using var host = Host(o => o.Timeouts.Total = TimeSpan.FromSeconds(2), endpoints: 1);
        host.Handler.Default = Reply.Pending;

        var request = host.Get();
        var attempt = await host.Handler.WaitForAttemptAsync(1);
        await host.Clock.WaitForTimerAsync(TimeSpan.FromSeconds(2));
        host.Clock.Advance(TimeSpan.FromMilliseconds(1999));
        Assert.False(attempt.Token.IsCancellationRequested);
        host.Clock.Advance(TimeSpan.FromMilliseconds(1));

        var error = await Assert.ThrowsAsync<TaskCanceledException>(() => RequestPathHost.Within(request));
        Assert.Contains("Timeouts:Total", Assert.IsType<TimeoutException>(error.InnerException).Message, StringComparison.Ordinal);
        Assert.True(attempt.WasCancelled);
    }
}
