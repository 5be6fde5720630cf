namespace Mesh.Client.Resilience;

/// <summary>
/// The end of an attempt's headers, the same for the first attempt sent directly and for every attempt in the
/// pipeline: latency recorded, reported, and the attempt either ended or handed to its response body.
/// </summary>
internal static class AttemptAccounting
{
    /// <summary>
    /// Accounts an attempt that produced <paramref name="response"/> (classified <paramref name="outcome"/>) or failed
    /// (null response). A successful response with a body keeps the attempt open until the body ends
    /// (<see cref="AttemptContent"/>); anything else ends it now.
    /// </summary>
    public static void OnHeaders(IAttemptHost host, FailureStatusSet statuses, in EndpointLease lease, HttpResponseMessage? response,
        AttemptOutcome outcome, bool penalise, bool bodyRead = false)
    {
        var endpoint = lease.Endpoint;
        var latency = lease.RecordResponse(outcome, penalise);
        host.OnAttemptCompleted(endpoint, outcome, latency);
        if (!bodyRead && outcome == AttemptOutcome.Success && response is not null && AttemptContent.TryTrack(response, host, statuses, lease))
        {
            return;
        }

        lease.End();
        host.OnAttemptEnded(endpoint, outcome);
    }

    /// <summary>
    /// Whether to read <paramref name="response"/>'s body inside its attempt (<see cref="RetryOptions.MaxBufferedResponseBytes"/>):
    /// the request may be retried (an idempotent method: reading <c>AllowRetry</c> would allocate the request's option
    /// bag on every request), and the body's length is known and small. gRPC bodies stream.
    /// </summary>
    public static bool ShouldReadBody(HttpRequestMessage request, HttpResponseMessage response, RetryOptions retry) =>
        retry is { Enabled: true, MaxAttempts: > 1, MaxBufferedResponseBytes: > 0 } && RetryPolicy.IsIdempotent(request.Method)
        && request.Method != HttpMethod.Head && response.Content is { } content
        && content.Headers.NonValidated.TryGetValues("Content-Length", out var values) && values.Count == 1
        && long.TryParse(values.ToString(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long length)
        && length > 0 && length <= retry.MaxBufferedResponseBytes;

    /// <summary>Reads the body into memory; returns the failure, if the body broke.</summary>
    public static async ValueTask<Exception?> ReadBodyAsync(HttpResponseMessage response, int limit, CancellationToken cancellationToken)
    {
        try
        {
            await response.Content.LoadIntoBufferAsync(limit, cancellationToken).ConfigureAwait(false);
            return null;
        }
        catch (Exception ex)
        {
            response.Dispose();
            return ex;
        }
    }
}
