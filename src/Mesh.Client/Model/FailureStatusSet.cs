namespace Mesh.Client;

/// <summary>
/// The status rules of an attempt, in one place. Per service: which response statuses count against an endpoint: by
/// default 502, 503 and 504 (<c>PassiveHealth:FailureStatusCodes</c> and <c>AllServerErrorsAreFailures</c>).
/// A bit per status, so classifying a response is one array read. For every service: which statuses a retry or hedge
/// may answer (<see cref="IsRetryableStatus"/>) and which make a fast answer look slow to Peak-EWMA
/// (<see cref="PenalisesLatency"/>).
/// </summary>
internal sealed class FailureStatusSet
{
    private readonly bool[] _isFailure = new bool[600];

    public static FailureStatusSet Default { get; } = new(null, allServerErrors: false);

    /// <param name="codes">The statuses that count; null for 502, 503 and 504.</param>
    /// <param name="allServerErrors">Whether every 5xx counts too.</param>
    public FailureStatusSet(IEnumerable<int>? codes, bool allServerErrors)
    {
        foreach (int code in codes ?? [502, 503, 504])
        {
            _isFailure[code] = true;
        }

        if (allServerErrors)
        {
            for (int code = 500; code < 600; code++)
            {
                _isFailure[code] = true;
            }
        }
    }

    public bool IsFailure(int statusCode) => (uint)statusCode < (uint)_isFailure.Length && _isFailure[statusCode];

    /// <summary>
    /// Whether a failed attempt with this status may be tried again elsewhere: 502, 503 and 504 say the endpoint (or a
    /// proxy in front of it) did not do the work. Other statuses, even if counted as failures, are the application's answer.
    /// </summary>
    public static bool IsRetryableStatus(int statusCode) => statusCode is 502 or 503 or 504;

    /// <summary>
    /// Whether a response with this status is recorded as a penalised latency: 5xx and 429 are answered quickly because
    /// the endpoint did not do the work, and must not make it look fast (the "black hole" problem).
    /// </summary>
    public static bool PenalisesLatency(int statusCode) => statusCode >= 500 || statusCode == 429;

    public AttemptOutcome Classify(HttpResponseMessage response) =>
        IsFailure((int)response.StatusCode) ? AttemptOutcome.FailureStatus : AttemptOutcome.Success;
}
