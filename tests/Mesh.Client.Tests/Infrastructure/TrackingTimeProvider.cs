using Microsoft.Extensions.Time.Testing;

namespace Mesh.Client.Tests.Infrastructure;

/// <summary>
/// A <see cref="FakeTimeProvider"/> that also tells a test which timers are armed, so it can wait (on the wall clock,
/// bounded) until the code under test has armed the timer it is about to fire, then <see cref="FakeTimeProvider.Advance"/>
/// exactly to it. Without this, a test advancing right after it saw an attempt could move the clock before a retry
/// delay, hedging delay or timeout was armed, and the timer would then count from the new time.
/// </summary>
public sealed class TrackingTimeProvider : FakeTimeProvider
{
    private readonly Lock _lock = new();
    private readonly List<TrackedTimer> _armed = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TrackingTimeProvider()
        : base(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero))
    {
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var tracked = new TrackedTimer(this);
        tracked.Inner = base.CreateTimer(s =>
        {
            tracked.Fired(); // before the callback: whatever it arms next is seen after this one is gone
            callback(s);
        }, state, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        tracked.Change(dueTime, period);
        return tracked;
    }

    /// <summary>The due times, relative to when each was armed, of the timers armed now (not fired, changed away or disposed).</summary>
    public IReadOnlyList<TimeSpan> ArmedDueTimes
    {
        get
        {
            lock (_lock)
            {
                return _armed.Select(t => t.DueTime).ToArray();
            }
        }
    }

    /// <summary>Waits until a timer armed for <paramref name="dueTime"/> is pending; fails the test after 10 s of wall clock.</summary>
    public Task WaitForTimerAsync(TimeSpan dueTime) => WaitForTimerAsync(d => d == dueTime, $"a timer due in {dueTime}");

    /// <summary>Waits until a pending timer's due time satisfies <paramref name="match"/>; returns that due time.</summary>
    public async Task<TimeSpan> WaitForTimerAsync(Func<TimeSpan, bool> match, string description)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                foreach (var timer in _armed)
                {
                    if (match(timer.DueTime))
                    {
                        return timer.DueTime;
                    }
                }

                changed = _changed.Task;
            }

            try
            {
                await changed.WaitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"Waited 10 s for {description}; armed: [{string.Join(", ", ArmedDueTimes)}].");
            }
        }
    }

    private void Update(TrackedTimer timer, bool armed)
    {
        TaskCompletionSource changed;
        lock (_lock)
        {
            _armed.Remove(timer);
            if (armed)
            {
                _armed.Add(timer);
            }

            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }

    private sealed class TrackedTimer(TrackingTimeProvider owner) : ITimer
    {
        private bool _periodic;

        public ITimer Inner { get; set; } = null!;

        public TimeSpan DueTime { get; private set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            DueTime = dueTime;
            _periodic = period != Timeout.InfiniteTimeSpan && period != TimeSpan.Zero;
            bool changed = Inner.Change(dueTime, period);
            owner.Update(this, armed: dueTime != Timeout.InfiniteTimeSpan);
            return changed;
        }

        public void Fired()
        {
            if (!_periodic)
            {
                owner.Update(this, armed: false);
            }
        }

        public void Dispose()
        {
            Inner.Dispose();
            owner.Update(this, armed: false);
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
