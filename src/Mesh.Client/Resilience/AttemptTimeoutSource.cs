namespace Mesh.Client.Resilience;

/// <summary>
/// The token sources that bound a first attempt by <c>Timeouts:Attempt</c>, reused (<see cref="ReusePool{T}"/>), so a
/// request whose attempt ends before its timeout (nearly all) allocates no token source, timer or registration list. Polly's timeout strategy pools its own
/// the same way.
/// </summary>
/// <remarks>
/// Only sources on the system clock are reused: <see cref="CancellationTokenSource.TryReset"/> refuses a source whose
/// system timer has ever been queued to fire, so a late timer can never cancel a later attempt; another
/// <see cref="TimeProvider"/>'s timers give no such guarantee, and their sources are created and disposed each time.
/// </remarks>
internal static class AttemptTimeoutSource
{
    /// <summary>A source that cancels after <paramref name="timeout"/> on <paramref name="timeProvider"/>'s clock.</summary>
    public static CancellationTokenSource Rent(TimeSpan timeout, TimeProvider timeProvider)
    {
        if (ReferenceEquals(timeProvider, TimeProvider.System))
        {
            if (ReusePool<CancellationTokenSource>.TryRent() is { } cached)
            {
                cached.CancelAfter(timeout);
                return cached;
            }

            var created = new CancellationTokenSource();
            created.CancelAfter(timeout);
            return created;
        }

        return new CancellationTokenSource(timeout, timeProvider);
    }

    /// <summary>
    /// Takes back a source whose attempt is over: kept for a later attempt (while the pool has room) when
    /// <paramref name="reusable"/>, it was never cancelled and its timer never fired; else disposed. Registrations left on
    /// it are dropped by the reset.
    /// </summary>
    /// <param name="source">The source <see cref="Rent"/> returned.</param>
    /// <param name="timeProvider">The clock it was rented on.</param>
    /// <param name="reusable">
    /// Whether nothing can still read its token: true for a request without content. Content may still be sending when
    /// the response headers arrive (an early answer, a duplex stream), and a content copy polls the token it was given;
    /// such a source is disposed, so a later attempt's timeout cannot cancel that copy.
    /// </param>
    public static void Return(CancellationTokenSource source, TimeProvider timeProvider, bool reusable)
    {
        if (!(reusable && ReferenceEquals(timeProvider, TimeProvider.System) && source.TryReset() && ReusePool<CancellationTokenSource>.TryReturn(source)))
        {
            source.Dispose();
        }
    }
}
