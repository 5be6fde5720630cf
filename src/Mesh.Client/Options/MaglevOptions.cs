
namespace Mesh.Client;

/// <summary>
/// Settings of <see cref="BalancerNames.Maglev"/>, bound from <c>Mesh:Services:&lt;service&gt;:Maglev</c>. The defaults and
/// limits are Envoy's, so the same endpoints give the same table.
/// </summary>
public sealed class MaglevOptions
{
    /// <summary>The default table size, the Maglev paper's recommendation and Envoy's default: 65,537 (prime).</summary>
    public const int DefaultTableSize = 65537;

    /// <summary>The largest table Envoy accepts: 5,000,011 (prime).</summary>
    public const int MaxTableSize = 5000011;

    /// <summary>
    /// The number of table entries: a prime, ideally at least 100 times the number of endpoints (each endpoint's share
    /// is then within a few percent of its weight). Up to 5,000,011. Default: 65,537.
    /// </summary>
    public int TableSize { get; set; } = DefaultTableSize;

    /// <summary>
    /// Bounded loads: when set, no endpoint takes more than this factor times the mean requests in flight (weighted);
    /// a request whose endpoint is full goes on to the next table entry. At least 1 (for example 1.25). Default: off
    /// (<see langword="null"/>). A service's <c>MeshServiceOptions.BalanceFactor</c> overrides it.
    /// </summary>
    public double? BalanceFactor { get; set; }

    internal void Validate(string keyPrefix, List<string> errors)
    {
        if (TableSize is < 2 or > MaxTableSize || !IsPrime(TableSize))
        {
            errors.Add(MeshServiceOptions.Bad(keyPrefix, nameof(TableSize), TableSize, $"a prime number up to {MaxTableSize}, such as {DefaultTableSize}"));
        }

        MeshServiceOptions.ValidateBalanceFactor(keyPrefix, BalanceFactor, errors);
    }

    internal static bool IsPrime(int n)
    {
        if (n < 2)
        {
            return false;
        }

        if (n % 2 == 0)
        {
            return n == 2;
        }

        for (int d = 3; (long)d * d <= n; d += 2)
        {
            if (n % d == 0)
            {
                return false;
            }
        }

        return true;
    }
}
