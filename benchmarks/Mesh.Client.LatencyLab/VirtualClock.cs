namespace Mesh.Client.LatencyLab;

/// <summary>
/// Simulated time: a <see cref="TimeProvider"/> whose timestamps move only when the simulation moves them, so the real
/// balancers, <see cref="Routing.EndpointLease"/>s, outlier detector, retry budget and latency histogram measure virtual
/// time. One tick is one <see cref="TimeSpan"/> tick. Timers (<see cref="CreateTimer"/>) become events of the
/// simulation: the detector's ejection timers and the balancers' slow-start timers fire at their virtual due time, on the
/// simulation's one thread, in a deterministic order.
/// </summary>
internal sealed class VirtualClock(Action<TimeSpan, Action> schedule) : TimeProvider
{
    private static readonly DateTimeOffset Epoch = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly Action<TimeSpan, Action> _schedule = schedule;

    /// <summary>Time since the start of the simulation.</summary>
    public TimeSpan Now { get; private set; }

    /// <inheritdoc />
    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    /// <inheritdoc />
    public override long GetTimestamp() => Now.Ticks;

    /// <inheritdoc />
    public override DateTimeOffset GetUtcNow() => Epoch + Now;

    /// <inheritdoc />
    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new VirtualTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>Moves time to <paramref name="time"/>; never backwards.</summary>
    public void MoveTo(TimeSpan time)
    {
        if (time < Now)
        {
            throw new InvalidOperationException($"Time cannot go back from {Now} to {time}.");
        }

        Now = time;
    }

    /// <summary>A timer as simulation events; a change or dispose invalidates the events already scheduled (a generation count).</summary>
    private sealed class VirtualTimer(VirtualClock clock, TimerCallback callback, object? state) : ITimer
    {
        private long _generation;

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            long generation = ++_generation;
            if (dueTime != Timeout.InfiniteTimeSpan)
            {
                Arm(generation, dueTime < TimeSpan.Zero ? TimeSpan.Zero : dueTime, period);
            }

            return true;
        }

        private void Arm(long generation, TimeSpan due, TimeSpan period) => clock._schedule(clock.Now + due, () =>
        {
            if (generation != _generation)
            {
                return;
            }

            if (period > TimeSpan.Zero && period != Timeout.InfiniteTimeSpan)
            {
                Arm(generation, period, period);
            }

            callback(state);
        });

        public void Dispose() => _generation++;

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
