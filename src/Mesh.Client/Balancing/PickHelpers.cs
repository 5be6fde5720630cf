using Mesh.Client.Discovery;

namespace Mesh.Client.Balancing;

/// <summary>Small pieces every policy's pick shares.</summary>
internal static class PickHelpers
{
    /// <summary>
    /// The first endpoint at or after <paramref name="start"/> (wrapping) that the context does not exclude; null if
    /// all are excluded. The common case (nothing excluded) returns at once.
    /// </summary>
    public static MeshEndpoint? FirstAllowedFrom(MeshEndpoint[] endpoints, int start, in PickContext context)
    {
        var candidate = endpoints[start];
        if (context.Excluded.IsEmpty || !context.IsExcluded(candidate))
        {
            return candidate;
        }

        for (int i = 1; i < endpoints.Length; i++)
        {
            int index = start + i;
            if (index >= endpoints.Length)
            {
                index -= endpoints.Length;
            }

            if (!context.IsExcluded(endpoints[index]))
            {
                return endpoints[index];
            }
        }

        return null;
    }

    /// <summary>Throws <see cref="ArgumentException"/> listing every bad setting a standalone balancer was given.</summary>
    public static void ThrowIfInvalid(string parameterName, Action<string, List<string>> validate)
    {
        var errors = new List<string>();
        validate(parameterName, errors);
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", errors), parameterName);
        }
    }

    /// <summary>A uniformly random 64-bit value: the request hash of a request that has none.</summary>
    public static ulong RandomHash(Random random) => unchecked((ulong)random.NextInt64(long.MinValue, long.MaxValue));

    /// <summary>
    /// Two distinct random indexes below <paramref name="count"/> (at least 2), from one 63-bit draw: the low 32 bits
    /// give the first index and the high 31 bits the second, each scaled by a multiply-shift (Lemire), so a pick pays
    /// for one call into the random source rather than two.
    /// </summary>
    public static (int First, int Second) TwoDistinct(Random random, int count)
    {
        ulong bits = (ulong)random.NextInt64();
        int first = (int)(((bits & 0xFFFF_FFFFUL) * (ulong)count) >> 32);
        int second = (int)(((bits >> 32) * (ulong)(count - 1)) >> 31);
        if (second >= first)
        {
            second++;
        }

        return (first, second);
    }
}
