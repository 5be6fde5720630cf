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
    /// The level a service routes to: the lowest that has an available member, or the lowest of all when none is
    /// available. <paramref name="size"/> is how many members it has. Members all of one level (the common case) cost
    /// one pass.
    /// </summary>
    public static int PreferredLevel(ReadOnlySpan<Endpoint> members, ReadOnlySpan<bool> available, out int size)
    {
        size = members.Length;
        if (members.IsEmpty || !HasSeveralLevels(members))
        {
            return members.IsEmpty ? 0 : members[0].Priority;
        }

        int preferred = int.MaxValue, lowest = int.MaxValue;
        for (int i = 0; i < members.Length; i++)
        {
            lowest = Math.Min(lowest, members[i].Priority);
            if (available[i] && members[i].Priority < preferred)
            {
                preferred = members[i].Priority;
            }
        }

        int level = preferred == int.MaxValue ? lowest : preferred;
        size = 0;
        foreach (var member in members)
        {
            size += member.Priority == level ? 1 : 0;
        }

        return level;
    }

    /// <summary>Clears the flags of members outside <paramref name="level"/>; returns how many remain flagged.</summary>
    public static int KeepLevel(ReadOnlySpan<Endpoint> members, Span<bool> available, int level)
    {
        int kept = 0;
        for (int i = 0; i < members.Length; i++)
        {
            available[i] &= members[i].Priority == level;
            kept += available[i] ? 1 : 0;
        }

        return kept;
    }

    /// <summary>Flags every member of <paramref name="level"/>, and no other: the routable set in panic.</summary>
    public static void MarkLevel(ReadOnlySpan<Endpoint> members, Span<bool> flags, int level)
    {
        for (int i = 0; i < members.Length; i++)
        {
            flags[i] = members[i].Priority == level;
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
