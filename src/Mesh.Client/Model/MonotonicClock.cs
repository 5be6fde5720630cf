using System.Runtime.CompilerServices;

namespace Mesh.Client;

/// <summary>
/// Now, for a pick, as monotonic <see cref="TimeSpan"/> ticks on the clock attempts are timed with (the scale of
/// <see cref="EndpointLoad.RecordRtt(TimeSpan, long)"/> and <see cref="MeshEndpoint.EffectiveWeight(long)"/>).
/// </summary>
/// <remarks>
/// With the system clock, a coarse millisecond clock (<see cref="Environment.TickCount64"/>, a few ns to read) is mapped
/// onto the precise one (tens of ns), re-anchored once a second so the two cannot drift apart: a latency decay of seconds
/// and a slow-start ramp of seconds do not need more. The offset is one 64-bit field, so a concurrent re-anchor never
/// tears it. Any other <see cref="TimeProvider"/> (a test's manual clock, a simulation's virtual one) is read directly.
/// A mutable struct, kept in a non-readonly field of its balancer, so reading it costs no pointer hop on the pick path.
/// </remarks>
internal struct MonotonicClock
{
    private readonly TimeProvider _timeProvider;
    private readonly bool _coarse;
    private long _offsetTicks;
    private long _anchorMilliseconds;

    public MonotonicClock(TimeProvider timeProvider)
    {
        _timeProvider = timeProvider;
        _coarse = ReferenceEquals(timeProvider, TimeProvider.System);
        if (_coarse)
        {
            _anchorMilliseconds = Environment.TickCount64;
            _offsetTicks = Precise() - (_anchorMilliseconds * TimeSpan.TicksPerMillisecond);
        }
    }

    /// <summary>The clock read.</summary>
    public readonly TimeProvider TimeProvider => _timeProvider;

    /// <summary>Now, in monotonic <see cref="TimeSpan"/> ticks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long NowTicks()
    {
        if (!_coarse)
        {
            return Precise();
        }

        long milliseconds = Environment.TickCount64;
        if (milliseconds - Volatile.Read(ref _anchorMilliseconds) > 1000)
        {
            long precise = Precise();
            Volatile.Write(ref _offsetTicks, precise - (milliseconds * TimeSpan.TicksPerMillisecond));
            Volatile.Write(ref _anchorMilliseconds, milliseconds);
            return precise;
        }

        return (milliseconds * TimeSpan.TicksPerMillisecond) + Volatile.Read(ref _offsetTicks);
    }

    private readonly long Precise() => Ticks(_timeProvider, _timeProvider.GetTimestamp());

    /// <summary>A timestamp of <paramref name="timeProvider"/> as monotonic <see cref="TimeSpan"/> ticks.</summary>
    public static long Ticks(TimeProvider timeProvider, long timestamp) => timeProvider.GetElapsedTime(0, timestamp).Ticks;
}
