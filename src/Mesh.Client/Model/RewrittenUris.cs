using System.Collections.Concurrent;

namespace Mesh.Client;

/// <summary>
/// The request URIs rewritten to one endpoint, by the caller's URI as written: a bounded, lock-free read cache
/// (<see cref="ConcurrentDictionary{TKey, TValue}"/> reads take no lock; its <c>Count</c> would take them all, so the
/// size is counted here).
/// </summary>
internal sealed class RewrittenUris(int capacity)
{
    private readonly ConcurrentDictionary<string, Uri> _uris = new(StringComparer.Ordinal);
    private int _count;

    public int Count => Volatile.Read(ref _count);

    public bool TryGet(string logicalUri, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Uri? uri) => _uris.TryGetValue(logicalUri, out uri);

    /// <summary>Keeps <paramref name="uri"/> unless the cache is full.</summary>
    public void TryAdd(string logicalUri, Uri uri)
    {
        if (Volatile.Read(ref _count) < capacity && _uris.TryAdd(logicalUri, uri))
        {
            Interlocked.Increment(ref _count);
        }
    }
}
