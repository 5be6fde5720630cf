
namespace Mesh.Client;

/// <summary>
/// Settings of <see cref="BalancerNames.PeakEwma"/>, bound from <c>Mesh:Services:&lt;service&gt;:PeakEwma</c>. The defaults are
/// Linkerd's and Finagle's.
/// </summary>
public sealed class PeakEwmaOptions
{
    /// <summary>
    /// The time constant of the latency estimate: a slow period is forgotten in about this long once faster responses
    /// arrive, and an idle endpoint's estimate decays toward zero at this rate. Default: 10 seconds.
    /// </summary>
    public TimeSpan Decay { get; set; } = EndpointLoad.DefaultDecay;

    /// <summary>
    /// The latency an endpoint is assumed to have before its first response, at most: compared with an endpoint that has
    /// answered faster, a new one is assumed that fast, so it is tried at once. Default: 30 milliseconds.
    /// </summary>
    public TimeSpan SeedRtt { get; set; } = EndpointLoad.DefaultSeedRtt;

    /// <summary>
    /// What a failed attempt (5xx or 429 response, connect failure, timeout) multiplies the endpoint's estimate by, so a
    /// replica that fails fast does not look fast. At least 1 (1 turns the penalty off). Default: 2.
    /// </summary>
    public double FailurePenaltyFactor { get; set; } = EndpointLoad.DefaultFailurePenaltyFactor;

    internal void Validate(string keyPrefix, List<string> errors)
    {
        if (Decay <= TimeSpan.Zero || Decay > TimeSpan.FromHours(1))
        {
            errors.Add(MeshServiceOptions.Bad(keyPrefix, nameof(Decay), Decay, "greater than 0 and at most 01:00:00"));
        }

        if (SeedRtt <= TimeSpan.Zero || SeedRtt > TimeSpan.FromMinutes(1))
        {
            errors.Add(MeshServiceOptions.Bad(keyPrefix, nameof(SeedRtt), SeedRtt, "greater than 0 and at most 00:01:00"));
        }

        if (!(FailurePenaltyFactor >= 1.0 && FailurePenaltyFactor <= 100.0))
        {
            errors.Add(MeshServiceOptions.Bad(keyPrefix, nameof(FailurePenaltyFactor), FailurePenaltyFactor, "a number from 1 to 100"));
        }
    }
}
