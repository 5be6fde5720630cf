namespace Mesh.Client.Health;

/// <summary>
/// When an endpoint is routable: the one rule, as a pure function of the members' health, their priority levels and
/// the panic options.
/// </summary>
/// <remarks>
/// <para>
/// Priority levels (<see cref="MeshEndpoint.Priority"/>; DNS SRV priority): a service routes to the lowest level that has
/// an available endpoint, and falls back to the next level only when none of the lower one is available. This is the simple, strict form of Envoy's priority levels and RFC 2782's rule (a client "MUST attempt to contact the
/// target host with the lowest-numbered priority it can reach"): no partial spill-over by health percentage. When no
/// endpoint at any level is available, the service is in panic and routes to every member of the lowest level, the
/// one the operator prefers. Health changes republish the routable set, so a fallback ends as soon as an endpoint of
/// the preferred level is available again.
/// </para>
/// <para>
/// Panic (Envoy's panic threshold, YARP's HealthyOrPanic): when fewer than <see cref="PanicOptions.ThresholdPercent"/> of
/// the chosen level's members are available, every member of the level is routable (<see cref="PanicMode.RouteToAll"/>),
/// so a widespread failure of health checking does not concentrate all traffic on a few survivors; or only the
/// available ones (<see cref="PanicMode.FailFast"/>).
/// </para>
/// </remarks>
internal static class RoutableSet
{
    /// <summary>
    /// Computes which of <paramref name="members"/> are routable. <paramref name="routable"/> (one flag per member) receives
    /// the answer. Returns whether the chosen level is below the panic threshold (whatever the mode), and whether the
    /// answer routes to every member of the level because of it; <paramref name="available"/> is how many members of the
    /// chosen level are available.
    /// </summary>
    public static (bool BelowThreshold, bool Panic) Compute(ReadOnlySpan<MeshEndpoint> members, Span<bool> routable, PanicOptions panic,
        out int available)
    {
        for (int i = 0; i < members.Length; i++)
        {
            routable[i] = members[i].Health.IsAvailable;
        }

        int level = PreferredLevel(members, routable, out int levelSize);
        available = KeepLevel(members, routable, level);
        bool below = levelSize > 0 && (available == 0 || available * 100.0 < panic.ThresholdPercent * levelSize);
        if (below && panic.Mode == PanicMode.RouteToAll)
        {
            MarkLevel(members, routable, level);
            return (true, true);
        }

        return (below, false);
    }

    /// <summary>
    /// The level a service routes to: the lowest that has an available member, or the lowest of all when none is
    /// available. <paramref name="size"/> is how many members it has. Members all of one level (the common case) cost
    /// one pass.
    /// </summary>
    private static int PreferredLevel(ReadOnlySpan<MeshEndpoint> members, ReadOnlySpan<bool> available, out int size)
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
    private static int KeepLevel(ReadOnlySpan<MeshEndpoint> members, Span<bool> available, int level)
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
    private static void MarkLevel(ReadOnlySpan<MeshEndpoint> members, Span<bool> flags, int level)
    {
        for (int i = 0; i < members.Length; i++)
        {
            flags[i] = members[i].Priority == level;
        }
    }

    private static bool HasSeveralLevels(ReadOnlySpan<MeshEndpoint> members)
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
