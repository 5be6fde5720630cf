using Polly;
using Polly.Timeout;

namespace Mesh.Client.Resilience;

/// <summary>How an attempt's result reads for the endpoint's health and load, and whether another attempt may follow it.</summary>
internal static class AttemptClassification
{
    /// <summary>
    /// Classifies an attempt that ended with <paramref name="exception"/>. A caller's cancellation, or the mesh cancelling
    /// a losing hedge (the attempt's own token cancelled while the request's is not), says nothing about the endpoint
    /// (YARP #2062); nor does an attempt a strategy refused before it was sent. The attempt timeout, the total timeout and
    /// a timeout inside the client's own handlers (a connect timeout) are the endpoint's; any other failure is a
    /// connection failure.
    /// </summary>
    public static AttemptOutcome OfException(Exception exception, bool sent, CancellationToken callerToken, CancellationToken requestToken,
        CancellationToken attemptToken)
    {
        if (exception is TimeoutRejectedException)
        {
            return AttemptOutcome.Timeout;
        }

        if (exception is OperationCanceledException)
        {
            if (callerToken.IsCancellationRequested)
            {
                return AttemptOutcome.Canceled;
            }

            return attemptToken.IsCancellationRequested && !requestToken.IsCancellationRequested ? AttemptOutcome.Canceled : AttemptOutcome.Timeout;
        }

        return sent ? AttemptOutcome.ConnectFailure : AttemptOutcome.Canceled;
    }

    /// <summary>
    /// Whether a retry or hedge may follow this result: a retryable status (by default a failure status that means the work
    /// was not done: 502, 503, 504),
    /// a connection failure, an attempt timeout, or a refusal by a per-attempt strategy (a breaker or limiter on that
    /// endpoint). Not a caller's cancellation or the total timeout.
    /// </summary>
    public static bool IsRetryable(in Outcome<HttpResponseMessage> outcome, FailureStatusSet statuses)
    {
        if (outcome.Result is { } response)
        {
            return statuses.IsRetryable((int)response.StatusCode);
        }

        return outcome.Exception switch
        {
            TaskCanceledException { InnerException: TimeoutException } => true,
            OperationCanceledException => false,
            HttpRequestException or ExecutionRejectedException => true,
            _ => false,
        };
    }

    /// <summary>
    /// Whether the attempt failed before any byte of the request left the client: the connection could not be made
    /// (refused, unreachable, name not resolved, TLS handshake failed). Such a request may be sent again, elsewhere,
    /// whatever its method, and its content was never read (gRPC's transparent retry, Envoy's reset-before-request).
    /// </summary>
    public static bool NeverLeft(in Outcome<HttpResponseMessage> outcome) =>
        outcome.Exception is HttpRequestException
        {
            HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError,
        };

    /// <summary>The exception a caller sees for an attempt that outlived <c>Timeouts:Attempt</c>, as HttpClient reports timeouts.</summary>
    public static TaskCanceledException AttemptTimeout(string serviceName, MeshEndpoint endpoint, TimeSpan timeout, Exception inner) =>
        new($"The attempt to {endpoint} for service '{serviceName}' timed out after {timeout.TotalSeconds:0.###} s (Timeouts:Attempt).",
            new TimeoutException($"Timeouts:Attempt of {timeout.TotalSeconds:0.###} s elapsed.", inner));

    /// <summary>The exception a caller sees for a request that outlived <c>Timeouts:Total</c>.</summary>
    public static TaskCanceledException TotalTimeout(string serviceName, TimeSpan timeout, Exception? inner = null) =>
        new($"The request to service '{serviceName}' did not complete within {timeout.TotalSeconds:0.###} s (Timeouts:Total).",
            new TimeoutException($"Timeouts:Total of {timeout.TotalSeconds:0.###} s elapsed.", inner));
}
