using Mesh.Client.Discovery;

namespace Mesh.Client.Balancing;

/// <summary>Small pieces every policy's pick shares.</summary>
internal static class PickHelpers
{
    /// <summary>
    /// The first endpoint at or after <paramref name="start"/> (wrapping) that the context does not exclude; null if
    /// all are excluded. The common case (nothing excluded) returns at once.
    /// </summary>
    public static Endpoint? FirstAllowedFrom(Endpoint[] endpoints, int start, in PickContext context)
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
}
