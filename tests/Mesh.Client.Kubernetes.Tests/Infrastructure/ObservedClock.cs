using System.Collections.Concurrent;

namespace Mesh.Client.Kubernetes.Tests.Infrastructure;

/// <summary>
/// A test clock (a FakeTimeProvider) that reports the short timers created on it, so a
/// test advances time only once the resolver waits, and reads how long it waits.
/// </summary>
public sealed class ObservedClock(TimeProvider inner, TimeSpan? shortest = null) : TimeProvider
{
    private readonly TimeSpan _recordUpTo = shortest ?? TimeSpan.FromSeconds(8);

    /// <summary>Every timer due within 8 s (reconnect and relist delays; request and watch timeouts are longer), in order.</summary>
    public ConcurrentQueue<TimeSpan> Delays { get; } = new();

    public AsyncSignal TimerCreated { get; } = new();

    public override DateTimeOffset GetUtcNow() => inner.GetUtcNow();

    public override long GetTimestamp() => inner.GetTimestamp();

    public override long TimestampFrequency => inner.TimestampFrequency;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = inner.CreateTimer(callback, state, dueTime, period);
        if (dueTime <= _recordUpTo)
        {
            Delays.Enqueue(dueTime);
        }

        TimerCreated.Pulse();
        return timer;
    }
}
