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

    private readonly bool[] _isGrpcFailure = new bool[17];

    private readonly bool[]? _isRetryable; // null: the default rule, IsFailure and IsRetryableStatus

    public static FailureStatusSet Default { get; } = new(null, allServerErrors: false);

    /// <param name="codes">The statuses that count; null for 502, 503 and 504.</param>
    /// <param name="allServerErrors">Whether every 5xx counts too.</param>
    /// <param name="grpcCodes">The gRPC statuses that count; null for UNAVAILABLE (14).</param>
    /// <param name="retryCodes">The statuses a retry may answer; null for those of 502, 503 and 504 that count.</param>
    public FailureStatusSet(IEnumerable<int>? codes, bool allServerErrors, IEnumerable<int>? grpcCodes = null, IEnumerable<int>? retryCodes = null)
    {
        if (retryCodes is not null)
        {
            _isRetryable = new bool[600];
            foreach (int code in retryCodes)
            {
                _isRetryable[code] = true;
            }
        }

        foreach (int code in grpcCodes ?? [GrpcUnavailable])
        {
            _isGrpcFailure[code] = true;
        }

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
    /// Whether a response with this status may be answered with a retry or hedge: a listed status (<c>Retry:StatusCodes</c>,
    /// or a route's), else a failure status that is retryable (<see cref="IsRetryableStatus"/>).
    /// </summary>
    public bool IsRetryable(int statusCode) => _isRetryable is { } listed
        ? (uint)statusCode < (uint)listed.Length && listed[statusCode]
        : IsFailure(statusCode) && IsRetryableStatus(statusCode);

    /// <summary>
    /// Whether a response with this status is recorded as a penalised latency: 5xx and 429 are answered quickly because
    /// the endpoint did not do the work, and must not make it look fast (the "black hole" problem).
    /// </summary>
    public static bool PenalisesLatency(int statusCode) => statusCode >= 500 || statusCode == 429;

    public AttemptOutcome Classify(HttpResponseMessage response) => Classify(response, out _);

    /// <summary>
    /// Classifies a response at its headers: its HTTP status, then, for a gRPC response that ended in its headers
    /// (trailers-only), its <c>grpc-status</c>. <paramref name="penalise"/> says whether its latency is recorded as a
    /// penalty (see <see cref="PenalisesLatency"/>).
    /// </summary>
    public AttemptOutcome Classify(HttpResponseMessage response, out bool penalise)
    {
        int status = (int)response.StatusCode;
        if (IsFailure(status))
        {
            penalise = true;
            return AttemptOutcome.FailureStatus;
        }

        if (GrpcStatus(response.Headers) is { } grpc)
        {
            return ClassifyGrpc(grpc, out penalise);
        }

        penalise = PenalisesLatency(status);
        return AttemptOutcome.Success;
    }

    /// <summary>
    /// Classifies a gRPC status. UNAVAILABLE (and any other listed in <c>PassiveHealth:FailureGrpcStatusCodes</c>) counts
    /// against the endpoint; RESOURCE_EXHAUSTED is penalised like 429; CANCELLED and DEADLINE_EXCEEDED are the caller's
    /// (its cancellation or its deadline) and never count; every other status is the application's answer (Linkerd).
    /// </summary>
    public AttemptOutcome ClassifyGrpc(int grpcStatus, out bool penalise)
    {
        if ((uint)grpcStatus < (uint)_isGrpcFailure.Length && _isGrpcFailure[grpcStatus])
        {
            penalise = true;
            return AttemptOutcome.FailureStatus;
        }

        penalise = grpcStatus == GrpcResourceExhausted;
        return grpcStatus is GrpcCancelled or GrpcDeadlineExceeded ? AttemptOutcome.Canceled : AttemptOutcome.Success;
    }

    /// <summary>The <c>grpc-status</c> in <paramref name="headers"/>, if there is one. Reads the raw value: allocates nothing.</summary>
    public static int? GrpcStatus(System.Net.Http.Headers.HttpHeaders headers)
    {
        if (headers.NonValidated.TryGetValues("grpc-status", out var values) && values.Count == 1
            && int.TryParse(values.ToString(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int status))
        {
            return status;
        }

        return null;
    }

    /// <summary>Whether <paramref name="response"/> carries gRPC (<c>application/grpc</c>), whose status comes in its trailers.</summary>
    public static bool IsGrpc(HttpResponseMessage response) =>
        response.Content is { } content && content.Headers.NonValidated.TryGetValues("Content-Type", out var type) && type.Count == 1
        && type.ToString().StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase);

    /// <summary>gRPC's CANCELLED.</summary>
    public const int GrpcCancelled = 1;

    /// <summary>gRPC's DEADLINE_EXCEEDED.</summary>
    public const int GrpcDeadlineExceeded = 4;

    /// <summary>gRPC's RESOURCE_EXHAUSTED.</summary>
    public const int GrpcResourceExhausted = 8;

    /// <summary>gRPC's UNAVAILABLE.</summary>
    public const int GrpcUnavailable = 14;
}
