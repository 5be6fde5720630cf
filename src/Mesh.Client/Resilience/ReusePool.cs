using System.Collections.Concurrent;

namespace Mesh.Client.Resilience;

/// <summary>
/// Instances of <typeparamref name="T"/> kept for reuse on the request path: one per thread, then a small shared queue,
/// since an attempt often ends on another thread than it began. What an instance must satisfy to be returned (reset,
/// cleared) is the caller's rule.
/// </summary>
internal static class ReusePool<T>
    where T : class
{
    /// <summary>Instances kept beyond the per-thread ones: enough for the attempts of a busy process to hand theirs on.</summary>
    private static readonly int SharedLimit = Math.Min(256, Environment.ProcessorCount * 8);

    private static readonly ConcurrentQueue<T> Shared = new();

    [ThreadStatic]
    private static T? t_cached;

    /// <summary>A kept instance, or null when there is none.</summary>
    public static T? TryRent()
    {
        var cached = t_cached;
        if (cached is not null)
        {
            t_cached = null;
            return cached;
        }

        return Shared.TryDequeue(out cached) ? cached : null;
    }

    /// <summary>Keeps <paramref name="item"/> if there is room; returns whether it was kept.</summary>
    public static bool TryReturn(T item)
    {
        if (t_cached is null)
        {
            t_cached = item;
            return true;
        }

        if (Shared.Count < SharedLimit)
        {
            Shared.Enqueue(item);
            return true;
        }

        return false;
    }
}
