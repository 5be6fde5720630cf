namespace Mesh.Client;

/// <summary>
/// Retries to another endpoint, inside the mesh, under a retry budget. Bound from
/// <c>Mesh:Services:&lt;service&gt;:Retry</c>. Defaults follow Finagle and Linkerd.
/// </summary>
/// <remarks>
/// An attempt is retried only when all of these hold: the method is idempotent (GET, HEAD, OPTIONS, PUT, DELETE,
/// TRACE) or the request opts in with <see cref="MeshRequestOptions.AllowRetry"/>; the attempt failed to connect, hit
/// its attempt timeout, or answered a retryable status (<see cref="StatusCodes"/>); the request's content can be sent again (no content, or buffered
/// content; a non-rewindable stream is never retried); fewer than <see cref="MaxAttempts"/> attempts were made; and
/// the budget has a retry to spend. A retry goes to an endpoint this request has not tried while one is routable.
/// </remarks>
public sealed class RetryOptions
{
    /// <summary>Whether the mesh retries at all. Default: <see langword="true"/>.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The most attempts per request, the first included. Default: 3. At most 8.</summary>
    public int MaxAttempts { get; set; } = 3;

    /// <summary>
    /// The share of requests, in percent, that may be retried on top of <see cref="MinRetriesPerSecond"/>, over
    /// <see cref="BudgetTtl"/>. Default: 20 (Finagle <c>percentCanRetry</c>, Linkerd <c>retryRatio</c>).
    /// </summary>
    public double BudgetPercent { get; set; } = 20;

    /// <summary>Retries allowed per second whatever the request rate, so a quiet service can still retry. Default: 10.</summary>
    public int MinRetriesPerSecond { get; set; } = 10;

    /// <summary>How long a request's deposit into the budget lasts. Default: 10 seconds.</summary>
    public TimeSpan BudgetTtl { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The pause before retrying the endpoint that just failed, when no other endpoint is left to try; doubled for
    /// each further attempt and jittered. A <c>Retry-After</c> header on the failed response replaces it. Default: 50 ms.
    /// </summary>
    public TimeSpan SameEndpointBackoff { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// The longest <c>Retry-After</c> the mesh waits for; a response asking for longer is returned to the caller.
    /// Default: 3 seconds.
    /// </summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Content other than a byte array, string or memory (for example a <see cref="StreamContent"/>) whose length is
    /// known and at most this many bytes is buffered before the first attempt so it can be sent again. Longer or
    /// unknown-length content is never retried. Default: 65,536. 0: never buffer.
    /// </summary>
    public int MaxBufferedContentBytes { get; set; } = 64 * 1024;

    /// <summary>
    /// A response to a request that may be retried (an idempotent method), whose body length is known and at most this
    /// many bytes, is read whole inside its attempt, so a connection that breaks mid-body is retried on another endpoint
    /// instead of failing the caller. Longer, unknown-length (chunked) and gRPC bodies stream to the caller as they come;
    /// a break in them reaches the caller (and still counts against the endpoint). Default: 65,536. 0: never.
    /// </summary>
    public int MaxBufferedResponseBytes { get; set; } = 64 * 1024;

    /// <summary>
    /// The response statuses a retry (or hedge) may answer, 400 to 599. Default (<see langword="null"/>): 502, 503 and
    /// 504 when they count as endpoint failures (<see cref="PassiveHealthOptions.FailureStatusCodes"/>), the statuses that
    /// say the endpoint did not do the work. A status listed here is retried whether or not it counts against the
    /// endpoint, as Gateway API's HTTPRoute <c>retry.codes</c> are.
    /// </summary>
    public IList<int>? StatusCodes { get; set; }

    /// <summary>The most attempts a request may make: a retry storm is the budget's to stop, but one request's loop is bounded too.</summary>
    internal const int MaxAttemptsLimit = 8;

    internal RetryOptions Clone() => (RetryOptions)MemberwiseClone();

    internal void Validate(string prefix, List<string> errors)
    {
        if (MaxAttempts is < 1 or > MaxAttemptsLimit)
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(MaxAttempts), MaxAttempts, $"1 to {MaxAttemptsLimit}"));
        }

        if (double.IsNaN(BudgetPercent) || BudgetPercent < 0 || BudgetPercent > 1000)
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(BudgetPercent), BudgetPercent, "0 to 1000"));
        }

        if (MinRetriesPerSecond is < 0 or > 100_000)
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(MinRetriesPerSecond), MinRetriesPerSecond, "0 to 100000"));
        }

        if (BudgetTtl < TimeSpan.FromSeconds(1) || BudgetTtl > TimeSpan.FromMinutes(1))
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(BudgetTtl), BudgetTtl, "from 00:00:01 to 00:01:00"));
        }

        if (SameEndpointBackoff < TimeSpan.Zero || SameEndpointBackoff > TimeSpan.FromSeconds(30))
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(SameEndpointBackoff), SameEndpointBackoff, "00:00:00 to 00:00:30"));
        }

        if (MaxRetryAfter < TimeSpan.Zero || MaxRetryAfter > TimeSpan.FromMinutes(5))
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(MaxRetryAfter), MaxRetryAfter, "00:00:00 to 00:05:00"));
        }

        if (MaxBufferedResponseBytes < 0)
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(MaxBufferedResponseBytes), MaxBufferedResponseBytes, "0 or more"));
        }

        ValidateStatusCodes(prefix, StatusCodes, errors);

        if (MaxBufferedContentBytes < 0)
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(MaxBufferedContentBytes), MaxBufferedContentBytes, "0 or more"));
        }
    }

    /// <summary>Checks a list of retryable statuses: each from 400 to 599 (a success or redirect is not retried).</summary>
    internal static void ValidateStatusCodes(string prefix, IList<int>? codes, List<string> errors)
    {
        if (codes is null)
        {
            return;
        }

        foreach (int code in codes)
        {
            if (code is < 400 or > 599)
            {
                errors.Add(MeshServiceOptions.Bad(prefix, nameof(StatusCodes), code, "HTTP status codes from 400 to 599"));
                return;
            }
        }
    }
}
