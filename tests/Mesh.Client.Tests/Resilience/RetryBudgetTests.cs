using Mesh.Client.Resilience;
using Mesh.Client.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Client.Tests.Resilience;

public sealed class RetryBudgetTests
{
    [Fact]
    public void The_reserve_allows_min_retries_per_second_times_ttl_and_then_the_budget_is_exhausted()
    {
        var time = new FakeTimeProvider();
        var budget = new RetryBudget(20, 10, TimeSpan.FromSeconds(10), time);

        Assert.Equal(100, budget.Available);
        for (int i = 0; i < 100; i++)
        {
            Assert.True(budget.TryWithdraw(), $"retry {i + 1} should be in the reserve");
        }

        Assert.False(budget.TryWithdraw());
        Assert.Equal(0, budget.Available);
    }

    [Fact]
    public void Every_five_requests_pay_for_one_retry_at_twenty_percent()
    {
        var time = new FakeTimeProvider();
        var budget = new RetryBudget(20, 0, TimeSpan.FromSeconds(10), time);
        Assert.False(budget.TryWithdraw());

        for (int i = 0; i < 100; i++)
        {
            budget.Deposit();
        }

        int retries = 0;
        while (budget.TryWithdraw())
        {
            retries++;
        }

        Assert.Equal(20, retries);
    }

    [Fact]
    public void Deposits_expire_after_the_ttl()
    {
        var time = new FakeTimeProvider();
        var budget = new RetryBudget(20, 0, TimeSpan.FromSeconds(10), time);
        for (int i = 0; i < 50; i++)
        {
            budget.Deposit();
        }

        Assert.Equal(10, budget.Available);
        time.Advance(TimeSpan.FromSeconds(10.5));
        Assert.Equal(0, budget.Available);
    }

    [Fact]
    public void A_spent_reserve_refills_once_its_withdrawals_leave_the_window()
    {
        var time = new FakeTimeProvider();
        var budget = new RetryBudget(20, 10, TimeSpan.FromSeconds(10), time);
        while (budget.TryWithdraw())
        {
        }

        time.Advance(TimeSpan.FromSeconds(5));
        Assert.False(budget.TryWithdraw());

        time.Advance(TimeSpan.FromSeconds(6));
        Assert.Equal(100, budget.Available);
        Assert.True(budget.TryWithdraw());
    }

    [Fact]
    public void A_zero_budget_never_retries()
    {
        var budget = new RetryBudget(0, 0, TimeSpan.FromSeconds(10), new FakeTimeProvider());
        budget.Deposit();
        Assert.False(budget.TryWithdraw());
    }
}
