namespace Mesh.Client.Kubernetes.Tests.Infrastructure;

/// <summary>
/// Something changed: tests wait on it (bounded) and re-check their condition, instead of sleeping and polling.
/// </summary>
public sealed class AsyncSignal
{
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Pulse() => Interlocked.Exchange(ref _next, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>Waits until <paramref name="condition"/> holds, re-checking on every pulse; fails after a generous timeout.</summary>
    public async Task WaitUntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null, Func<string>? onTimeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? WatchRecorder.DefaultTimeout);
        while (true)
        {
            var next = Volatile.Read(ref _next);
            if (condition())
            {
                return;
            }

            var remaining = deadline - DateTime.UtcNow;
            if (remaining <= TimeSpan.Zero)
            {
                throw new TimeoutException($"Timed out waiting for {what}.{(onTimeout is null ? string.Empty : " " + onTimeout())}");
            }

            try
            {
                await next.Task.WaitAsync(remaining);
            }
            catch (TimeoutException)
            {
            }
        }
    }
}
