namespace Mesh.Client.Kubernetes.Discovery;

/// <summary>
/// Watches shared by every subscriber of one key: started by the first subscription, stopped when the last one lets go.
/// One per Service for EndpointSlices, one per namespace for HTTPRoutes, whichever clients ask.
/// </summary>
internal sealed class SharedWatches<TKey, TWatch> : IDisposable
    where TKey : notnull
    where TWatch : class, IDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<TKey, TWatch> _watches;
    private bool _disposed;

    public SharedWatches(IEqualityComparer<TKey>? comparer = null)
    {
        _watches = new Dictionary<TKey, TWatch>(comparer);
    }

    /// <summary>The watches running now.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _watches.Count;
            }
        }
    }

    /// <summary>The watch of <paramref name="key"/>, if one runs.</summary>
    public TWatch? Get(TKey key)
    {
        lock (_lock)
        {
            return _watches.GetValueOrDefault(key);
        }
    }

    /// <summary>
    /// Subscribes to <paramref name="key"/>'s watch, creating it when none runs. The handle returned unsubscribes once,
    /// and stops the watch when <paramref name="unsubscribe"/> says no subscriber is left.
    /// </summary>
    public IDisposable Subscribe<TSubscription>(TKey key, Func<TWatch> create, Func<TWatch, TSubscription> subscribe,
        Func<TWatch, TSubscription, int> unsubscribe)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_watches.TryGetValue(key, out var watch))
            {
                watch = create();
                _watches[key] = watch;
            }

            var subscription = subscribe(watch);
            return new Handle(() => Release(key, watch, () => unsubscribe(watch, subscription)));
        }
    }

    private void Release(TKey key, TWatch watch, Func<int> unsubscribe)
    {
        lock (_lock)
        {
            if (unsubscribe() == 0 && _watches.TryGetValue(key, out var current) && ReferenceEquals(current, watch))
            {
                _watches.Remove(key);
                watch.Dispose();
            }
        }
    }

    /// <summary>Stops every watch.</summary>
    public void Dispose()
    {
        TWatch[] watches;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            watches = [.. _watches.Values];
            _watches.Clear();
        }

        foreach (var watch in watches)
        {
            watch.Dispose();
        }
    }

    private sealed class Handle(Action release) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                release();
            }
        }
    }
}
