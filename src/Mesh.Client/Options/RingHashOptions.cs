
namespace Mesh.Client;

/// <summary>
/// Settings of <see cref="BalancerNames.RingHash"/>, bound from <c>Mesh:Services:&lt;service&gt;:RingHash</c>. The defaults and
/// limits are Envoy's and gRPC's (A42), so the same endpoints give the same ring.
/// </summary>
public sealed class RingHashOptions
{
    /// <summary>The largest ring Envoy accepts, and the default maximum: 8,388,608 entries.</summary>
    public const int MaxRingSizeLimit = 8 * 1024 * 1024;

    /// <summary>
    /// The least number of ring entries: the smallest weight gets a whole number of entries and the others in
    /// proportion. Larger rings spread keys more evenly and take longer to build. From 1 to 8,388,608. Default: 1,024.
    /// </summary>
    public int MinimumRingSize { get; set; } = 1024;

    /// <summary>The most ring entries, whatever the weights. From <see cref="MinimumRingSize"/> to 8,388,608. Default: 8,388,608.</summary>
    public int MaximumRingSize { get; set; } = MaxRingSizeLimit;

    /// <summary>
    /// Bounded loads: when set, no endpoint takes more than this factor times the mean requests in flight (weighted);
    /// a request whose endpoint is full goes on along the ring. At least 1 (for example 1.25). Default: off
    /// (<see langword="null"/>). A service's <c>MeshServiceOptions.BalanceFactor</c> overrides it.
    /// </summary>
    public double? BalanceFactor { get; set; }

    internal void Validate(string keyPrefix, List<string> errors)
    {
        if (MinimumRingSize is < 1 or > MaxRingSizeLimit)
        {
            errors.Add(MeshServiceOptions.Bad(keyPrefix, nameof(MinimumRingSize), MinimumRingSize, $"an integer from 1 to {MaxRingSizeLimit}"));
        }

        if (MaximumRingSize is < 1 or > MaxRingSizeLimit || MaximumRingSize < MinimumRingSize)
        {
            errors.Add(MeshServiceOptions.Bad(keyPrefix, nameof(MaximumRingSize), MaximumRingSize,
                $"an integer from MinimumRingSize ({MinimumRingSize}) to {MaxRingSizeLimit}"));
        }

        MeshServiceOptions.ValidateBalanceFactor(keyPrefix, BalanceFactor, errors);
    }
}
