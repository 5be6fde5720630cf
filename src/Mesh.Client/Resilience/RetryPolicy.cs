namespace Mesh.Client.Resilience;

/// <summary>
/// What may be retried (or hedged): the rules of <see cref="RetryOptions"/>, in one place. Every check here runs only
/// after an attempt failed, except <see cref="PrepareContentAsync"/>, which runs before the first attempt and does
/// nothing for a request without content or with buffered content.
/// </summary>
internal static class RetryPolicy
{
    /// <summary>Methods RFC 9110 calls idempotent: repeating them has the effect of sending them once.</summary>
    public static bool IsIdempotent(HttpMethod method) =>
        method == HttpMethod.Get || method == HttpMethod.Head || method == HttpMethod.Options
        || method == HttpMethod.Put || method == HttpMethod.Delete || method == HttpMethod.Trace;

    /// <summary>Whether the request's method and its <see cref="MeshRequestOptions.AllowRetry"/> switch allow a retry.</summary>
    public static bool MethodAllows(HttpRequestMessage request)
    {
        // Options is read only here, after a failure, because reading it allocates the request's option bag.
        if (request.Options.TryGetValue(MeshRequestOptions.AllowRetry, out bool allow))
        {
            return allow;
        }

        return IsIdempotent(request.Method);
    }

    /// <summary>Whether <paramref name="content"/> can be sent again as it is: none, or an in-memory buffer.</summary>
    public static bool IsReplayable(HttpContent? content) =>
        content is null or ByteArrayContent or ReadOnlyMemoryContent;

    /// <summary>
    /// Before the first attempt: makes content that is not yet replayable replayable by buffering it, when the request
    /// could be retried at all and its length is known and within <see cref="RetryOptions.MaxBufferedContentBytes"/>.
    /// Returns whether the content can be sent again. A non-rewindable stream of unknown or larger length is never
    /// buffered and never retried.
    /// </summary>
    public static async ValueTask<bool> PrepareContentAsync(HttpRequestMessage request, RetryOptions options, CancellationToken cancellationToken)
    {
        var content = request.Content!;
        if (options.MaxBufferedContentBytes == 0 || !MethodAllows(request)
            || content.Headers.ContentLength is not { } length || length > options.MaxBufferedContentBytes)
        {
            return false;
        }

        await content.LoadIntoBufferAsync(options.MaxBufferedContentBytes, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>The delay a 503 or 429 response asks for with <c>Retry-After</c> (seconds or a date), if any.</summary>
    public static TimeSpan? RetryAfter(HttpResponseMessage? response, TimeProvider timeProvider)
    {
        var header = response?.Headers.RetryAfter;
        if (header is null)
        {
            return null;
        }

        if (header.Delta is { } delta)
        {
            return delta < TimeSpan.Zero ? TimeSpan.Zero : delta;
        }

        if (header.Date is { } date)
        {
            var wait = date - timeProvider.GetUtcNow();
            return wait < TimeSpan.Zero ? TimeSpan.Zero : wait;
        }

        return null;
    }

    /// <summary>
    /// The backoff before retrying an endpoint already tried: <paramref name="baseDelay"/> doubled per such retry, with
    /// 50 % to 150 % jitter, so clients that failed together do not retry together.
    /// </summary>
    public static TimeSpan Backoff(TimeSpan baseDelay, int retry)
    {
        double jitter = 0.5 + Random.Shared.NextDouble();
        return TimeSpan.FromTicks((long)(baseDelay.Ticks * Math.Pow(2, Math.Min(retry, 10)) * jitter));
    }
}
