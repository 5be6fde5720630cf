using Mesh.Client.Resilience;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Client.Tests.Resilience;

/// <summary>The first attempt's timeout sources are reused only when nothing can be cancelled by mistake.</summary>
public sealed class AttemptTimeoutSourceTests
{
    [Fact]
    public void A_source_whose_attempt_ended_in_time_is_reused_by_the_next_attempt_on_the_thread_with_its_new_timeout()
    {
        var first = AttemptTimeoutSource.Rent(TimeSpan.FromHours(1), TimeProvider.System);
        AttemptTimeoutSource.Return(first, TimeProvider.System, reusable: true);

        var second = AttemptTimeoutSource.Rent(TimeSpan.FromHours(2), TimeProvider.System);

        Assert.Same(first, second);
        Assert.False(second.IsCancellationRequested);
        AttemptTimeoutSource.Return(second, TimeProvider.System, reusable: false);
    }

    [Fact]
    public async Task A_source_that_timed_out_is_never_reused()
    {
        var expired = AttemptTimeoutSource.Rent(TimeSpan.FromMilliseconds(1), TimeProvider.System);
        var cancelled = new TaskCompletionSource();
        using (expired.Token.Register(() => cancelled.TrySetResult()))
        {
            await cancelled.Task.WaitAsync(TimeSpan.FromSeconds(30));
        }

        AttemptTimeoutSource.Return(expired, TimeProvider.System, reusable: true);
        var next = AttemptTimeoutSource.Rent(TimeSpan.FromHours(1), TimeProvider.System);

        Assert.NotSame(expired, next);
        Assert.False(next.IsCancellationRequested);
        AttemptTimeoutSource.Return(next, TimeProvider.System, reusable: false);
    }

    [Fact]
    public void A_source_whose_token_may_still_be_read_is_not_reused()
    {
        var first = AttemptTimeoutSource.Rent(TimeSpan.FromHours(1), TimeProvider.System);
        AttemptTimeoutSource.Return(first, TimeProvider.System, reusable: false); // a request with content

        var second = AttemptTimeoutSource.Rent(TimeSpan.FromHours(1), TimeProvider.System);

        Assert.NotSame(first, second);
        AttemptTimeoutSource.Return(second, TimeProvider.System, reusable: false);
    }

    [Fact]
    public void Sources_on_another_clock_are_not_reused_and_cancel_on_that_clock()
    {
        var time = new FakeTimeProvider();
        var first = AttemptTimeoutSource.Rent(TimeSpan.FromSeconds(10), time);
        AttemptTimeoutSource.Return(first, time, reusable: true);
        var second = AttemptTimeoutSource.Rent(TimeSpan.FromSeconds(10), time);

        Assert.NotSame(first, second);
        time.Advance(TimeSpan.FromSeconds(9));
        Assert.False(second.IsCancellationRequested);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(second.IsCancellationRequested);
        AttemptTimeoutSource.Return(second, time, reusable: true);
    }
}
