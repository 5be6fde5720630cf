namespace Mesh.Client;

/// <summary>
/// Passive failure accounting (outlier detection): how real traffic ejects an endpoint. Bound from
/// <c>Mesh:Services:&lt;service&gt;:PassiveHealth</c>. Defaults follow Envoy's outlier detection and Finagle's
/// failure accrual.
/// </summary>
public sealed class PassiveHealthOptions
{
    /// <summary>Whether real traffic can eject an endpoint. Default: <see langword="true"/>.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Consecutive failed attempts that eject an endpoint. Default: 5 (Envoy <c>consecutive_5xx</c>, Finagle). 0 turns the rule off.</summary>
    public int ConsecutiveFailures { get; set; } = 5;

    /// <summary>
    /// The success rate, in percent, below which an endpoint is ejected, measured over <see cref="SuccessRateWindow"/>
    /// once it has seen <see cref="MinimumRequests"/> attempts. Default: 80 (Finagle's success-rate accrual). 0 turns the rule off.
    /// </summary>
    public double MinimumSuccessRatePercent { get; set; } = 80;

    /// <summary>The window the success rate is measured over. Default: 30 seconds.</summary>
    public TimeSpan SuccessRateWindow { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Attempts an endpoint must have seen within the window before its success rate counts. Default: 5.</summary>
    public int MinimumRequests { get; set; } = 5;

    /// <summary>
    /// The first ejection's length; the n-th consecutive ejection lasts n times this, up to <see cref="MaxEjectionTime"/>.
    /// Default: 30 seconds (Envoy <c>base_ejection_time</c>).
    /// </summary>
    public TimeSpan BaseEjectionTime { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest an ejection lasts. Default: 300 seconds (Envoy <c>max_ejection_time</c>).</summary>
    public TimeSpan MaxEjectionTime { get; set; } = TimeSpan.FromSeconds(300);

    /// <summary>
    /// A random extra length, as a fraction of the ejection time, so endpoints ejected together do not return
    /// together. Default: 0.1 (up to 10 % longer).
    /// </summary>
    public double EjectionJitter { get; set; } = 0.1;

    /// <summary>
    /// The most endpoints, in percent of the service's members, that may be ejected at once; at least one may always be.
    /// Default: 50, the panic threshold's default. Below half the members available the service panics and routes to all
    /// of them anyway, so a higher cap would never take effect; a lower one, such as Envoy's 10, leaves dead endpoints
    /// in rotation whenever more than one is dead (with 2 of 8 refusing connections, one stayed in). The two settings
    /// answer the same question (when to stop trusting health) and should move together.
    /// </summary>
    public double MaxEjectionPercent { get; set; } = 50;

    /// <summary>
    /// Response status codes that count as an endpoint failure. Default: none listed, which means 502, 503 and 504
    /// (what a proxy or an overloaded server answers). Listing codes replaces the default.
    /// </summary>
    public IList<int>? FailureStatusCodes { get; set; }

    /// <summary>
    /// gRPC statuses (from <c>grpc-status</c>, in the trailers or a trailers-only response) that count as an endpoint
    /// failure. Default: none listed, which means UNAVAILABLE (14). CANCELLED (1) and DEADLINE_EXCEEDED (4) never count,
    /// and RESOURCE_EXHAUSTED (8) is penalised in the latency estimate like a 429 without counting as a failure.
    /// </summary>
    public IList<int>? FailureGrpcStatusCodes { get; set; }

    /// <summary>Counts every 5xx status as an endpoint failure, in addition to <see cref="FailureStatusCodes"/>. Default: <see langword="false"/> (500 is usually the application's answer).</summary>
    public bool AllServerErrorsAreFailures { get; set; }

    internal void Validate(string prefix, List<string> errors)
    {
        if (ConsecutiveFailures < 0 || ConsecutiveFailures > 1000)
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(ConsecutiveFailures), ConsecutiveFailures, "0 (off) to 1000"));
        }

        if (double.IsNaN(MinimumSuccessRatePercent) || MinimumSuccessRatePercent < 0 || MinimumSuccessRatePercent > 100)
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(MinimumSuccessRatePercent), MinimumSuccessRatePercent, "0 (off) to 100"));
        }

        if (SuccessRateWindow < TimeSpan.FromSeconds(1) || SuccessRateWindow > TimeSpan.FromHours(1))
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(SuccessRateWindow), SuccessRateWindow, "from 00:00:01 to 01:00:00"));
        }

        if (MinimumRequests < 1)
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(MinimumRequests), MinimumRequests, "at least 1"));
        }

        if (BaseEjectionTime <= TimeSpan.Zero || BaseEjectionTime > TimeSpan.FromHours(1))
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(BaseEjectionTime), BaseEjectionTime, "greater than 0 and at most 01:00:00"));
        }

        if (MaxEjectionTime < BaseEjectionTime || MaxEjectionTime > TimeSpan.FromDays(1))
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(MaxEjectionTime), MaxEjectionTime, $"at least BaseEjectionTime ({BaseEjectionTime}) and at most 1.00:00:00"));
        }

        if (double.IsNaN(EjectionJitter) || EjectionJitter < 0 || EjectionJitter > 1)
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(EjectionJitter), EjectionJitter, "0 to 1"));
        }

        if (double.IsNaN(MaxEjectionPercent) || MaxEjectionPercent < 0 || MaxEjectionPercent > 100)
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(MaxEjectionPercent), MaxEjectionPercent, "0 to 100"));
        }

        if (FailureGrpcStatusCodes is not null)
        {
            foreach (int code in FailureGrpcStatusCodes)
            {
                if (code is < 1 or > 16 or FailureStatusSet.GrpcCancelled or FailureStatusSet.GrpcDeadlineExceeded)
                {
                    errors.Add(MeshServiceOptions.Bad(prefix, nameof(FailureGrpcStatusCodes), code,
                        "gRPC status codes from 2 to 16 other than 4 (CANCELLED and DEADLINE_EXCEEDED are the caller's)"));
                }
            }
        }

        if (FailureStatusCodes is not null)
        {
            foreach (int code in FailureStatusCodes)
            {
                if (code is < 100 or > 599)
                {
                    errors.Add(MeshServiceOptions.Bad(prefix, nameof(FailureStatusCodes), code, "HTTP status codes from 100 to 599"));
                }
            }
        }
    }
}
