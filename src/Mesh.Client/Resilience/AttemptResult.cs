using System.Runtime.ExceptionServices;
using Mesh.Client.Discovery;
using Mesh.Client.Routing;

namespace Mesh.Client.Resilience;

/// <summary>How one attempt ended: the endpoint, its outcome, and the response or the exception it produced.</summary>
internal readonly struct AttemptResult(MeshEndpoint endpoint, AttemptOutcome outcome, HttpResponseMessage? response, ExceptionDispatchInfo? error)
{
    public MeshEndpoint Endpoint { get; } = endpoint;

    public AttemptOutcome Outcome { get; } = outcome;

    public HttpResponseMessage? Response { get; } = response;

    public ExceptionDispatchInfo? Error { get; } = error;

    /// <summary>Whether a retry may follow: a retryable outcome, and for an exception, one that says the transport failed.</summary>
    public bool IsRetryable => RetryPolicy.IsRetryable(Outcome, Response)
        && (Error is null || Outcome == AttemptOutcome.Timeout || Error.SourceException is HttpRequestException);

    /// <summary>Releases the response, if any (a failed attempt's response is disposed before the next attempt).</summary>
    public void Discard() => Response?.Dispose();
}
