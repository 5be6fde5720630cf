namespace Mesh.Client;

/// <summary>How one attempt against one endpoint ended, as failure accounting and latency tracking see it.</summary>
internal enum AttemptOutcome
{
    /// <summary>A response arrived whose status is not counted as an endpoint failure.</summary>
    Success = 0,

    /// <summary>A response arrived with a status the service counts as an endpoint failure (by default 502, 503, 504).</summary>
    FailureStatus = 1,

    /// <summary>No connection could be made, or the connection broke before a response.</summary>
    ConnectFailure = 2,

    /// <summary>The attempt's own timeout expired.</summary>
    Timeout = 3,

    /// <summary>
    /// The caller cancelled, or the mesh cancelled a losing hedge. Never counted against the endpoint.
    /// </summary>
    Canceled = 4,
}
