using Mesh.Client.Discovery;

namespace Mesh.Client.Kubernetes.Tests.Infrastructure;

/// <summary>An observer that keeps every snapshot and error, and lets a test wait (bounded) for one that matches.</summary>
public sealed class WatchRecorder : IEndpointObserver
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    private readonly Lock _lock = new();
    private readonly List<IReadOnlyList<EndpointAddress>> _snapshots = [];
    private readonly List<Exception> _errors = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public IReadOnlyList<IReadOnlyList<EndpointAddress>> Snapshots
    {
        get
        {
            lock (_lock)
            {
                return [.. _snapshots];
            }
        }
    }

    public IReadOnlyList<Exception> Errors
    {
        get
        {
            lock (_lock)
            {
                return [.. _errors];
            }
        }
    }

    public IReadOnlyList<EndpointAddress>? Latest
    {
        get
        {
            lock (_lock)
            {
                return _snapshots.Count == 0 ? null : _snapshots[^1];
            }
        }
    }

    public void OnEndpoints(IReadOnlyList<EndpointAddress> endpoints)
    {
        lock (_lock)
        {
            _snapshots.Add([.. endpoints]);
        }

        Signal();
    }

    public void OnError(Exception exception)
    {
        lock (_lock)
        {
            _errors.Add(exception);
        }

        Signal();
    }

    private void Signal() => Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>Waits until the latest snapshot satisfies <paramref name="predicate"/>; fails with what was seen after the timeout.</summary>
    public async Task<IReadOnlyList<EndpointAddress>> WaitForAsync(Func<IReadOnlyList<EndpointAddress>, bool> predicate, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (true)
        {
            var changed = Volatile.Read(ref _changed);
            if (Latest is { } latest && predicate(latest))
            {
                return latest;
            }

            var remaining = deadline - DateTime.UtcNow;
            if (remaining <= TimeSpan.Zero)
            {
                throw new TimeoutException($"Timed out waiting for {what}. Latest: [{string.Join(", ", Latest ?? [])}]; errors: {string.Join(" | ", Errors.Select(e => e.Message))}");
            }

            try
            {
                await changed.Task.WaitAsync(remaining);
            }
            catch (TimeoutException)
            {
            }
        }
    }

    /// <summary>Waits until the endpoints are exactly <paramref name="authorities"/> (host:port), in any order.</summary>
    public Task<IReadOnlyList<EndpointAddress>> WaitForAuthoritiesAsync(params string[] authorities) =>
        WaitForAsync(list => list.Select(e => e.Authority).Order(StringComparer.Ordinal).SequenceEqual(authorities.Order(StringComparer.Ordinal)),
            $"endpoints [{string.Join(", ", authorities)}]");

    /// <summary>Waits until an error matching <paramref name="predicate"/> was reported.</summary>
    public async Task<Exception> WaitForErrorAsync(Func<Exception, bool> predicate, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (true)
        {
            var changed = Volatile.Read(ref _changed);
            if (Errors.FirstOrDefault(predicate) is { } error)
            {
                return error;
            }

            var remaining = deadline - DateTime.UtcNow;
            if (remaining <= TimeSpan.Zero)
            {
                throw new TimeoutException($"Timed out waiting for {what}; errors: {string.Join(" | ", Errors.Select(e => e.Message))}");
            }

            try
            {
                await changed.Task.WaitAsync(remaining);
            }
            catch (TimeoutException)
            {
            }
        }
    }
}
