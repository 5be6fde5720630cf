
namespace Mesh.Client;

/// <summary>
/// Settings of <see cref="BalancerNames.LeastRequest"/>, bound from <c>Mesh:Services:&lt;service&gt;:LeastRequest</c>. The
/// defaults are Envoy's.
/// </summary>
public sealed class LeastRequestOptions
{
    /// <summary>
    /// How many random endpoints each pick compares (the "power of d choices"); the first two are distinct. From 2 to
    /// 100. Default: 2.
    /// </summary>
    public int ChoiceCount { get; set; } = 2;

    /// <summary>
    /// Compare every routable endpoint instead of a random sample: exact, but linear in the number of endpoints, and
    /// prone to herding when many clients see the same counts. The scan starts at a random endpoint, so ties spread.
    /// Default: <see langword="false"/>.
    /// </summary>
    public bool FullScan { get; set; }

    /// <summary>
    /// With unequal weights, an endpoint scores <c>weight / (in-flight + 1) ^ ActiveRequestBias</c> and the highest score
    /// wins (Envoy's formula); 0 ignores load and 1 weighs it fully. From 0 to 10. Default: 1. With equal weights the
    /// fewest requests in flight wins.
    /// </summary>
    public double ActiveRequestBias { get; set; } = 1.0;

    internal void Validate(string keyPrefix, List<string> errors)
    {
        if (ChoiceCount is < 2 or > 100)
        {
            errors.Add(MeshServiceOptions.Bad(keyPrefix, nameof(ChoiceCount), ChoiceCount, "an integer from 2 to 100"));
        }

        if (!(ActiveRequestBias >= 0 && ActiveRequestBias <= 10))
        {
            errors.Add(MeshServiceOptions.Bad(keyPrefix, nameof(ActiveRequestBias), ActiveRequestBias, "a number from 0 to 10"));
        }
    }
}
