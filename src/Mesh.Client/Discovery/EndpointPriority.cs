namespace Mesh.Client.Discovery;

/// <summary>
/// Priority levels (<see cref="Endpoint.Priority"/>; DNS SRV priority): a service routes to the lowest level that has
/// an available endpoint, and falls back to the next level only when none of the lower one is available.
/// </summary>
/// <remarks>
/// This is the simple, strict form of Envoy's priority levels and RFC 2782's rule (a client "MUST attempt to contact the
/// target host with the lowest-numbered priority it can reach"): no partial spill-over by health percentage. When no
/// endpoint at any level is available, the service is in panic and routes to every member of the lowest level, the
/// one the operator prefers. Health changes republish the routable set, so a fallback ends as soon as an endpoint of
/// the preferred level is available again.
/// </remarks>
internal static class EndpointPriority
{
    /// <summary>
    /// Clears the flags of available members outside the lowest level that has one; returns how many remain flagged.
    /// Members all of one level (the common case) are left as they are.
    /// </summary>
    public static int KeepPreferredLevel(ReadOnlySpan<Endpoint> members, Span<bool> available, int availableCount)
    {
        if (availableCount == 0 || !HasSeveralLevels(members))
        {
            return availableCount;
        }

        int preferred = int.MaxValue;
        for (int i = 0; i < members.Length; i++)
        {
            if (available[i] && members[i].Priority < preferred)
            {
                preferred = members[i].Priority;
            }
        }

        int kept = 0;
        for (int i = 0; i < members.Length; i++)
        {
            available[i] &= members[i].Priority == preferred;
            kept += available[i] ? 1 : 0;
        }

        return kept;
    }

    /// <summary>Flags every member of the lowest level, and no other: the routable set in panic.</summary>
    public static void MarkLowestLevel(ReadOnlySpan<Endpoint> members, Span<bool> flags)
    {
        int lowest = int.MaxValue;
        foreach (var member in members)
        {
            lowest = Math.Min(lowest, member.Priority);
        }

        for (int i = 0; i < members.Length; i++)
        {
            flags[i] = members[i].Priority == lowest;
        }
    }

    private static bool HasSeveralLevels(ReadOnlySpan<Endpoint> members)
    {
        for (int i = 1; i < members.Length; i++)
        {
            if (members[i].Priority != members[0].Priority)
            {
                return true;
            }
        }

        return false;
    }
}
