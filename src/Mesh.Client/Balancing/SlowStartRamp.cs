using Mesh.Client.Discovery;

namespace Mesh.Client.Balancing;

/// <summary>
/// What a balancer needs to know, when it publishes a new structure, about slow start (<see cref="SlowStartOptions"/>):
/// until when any member's weight is still ramping. Outside that time a pick reads only the static weights, as Envoy
/// does (<c>noHostsAreInSlowStart</c>), so slow start costs nothing once every ramp has ended.
/// </summary>
internal static class SlowStartRamp
{
    /// <summary>No member ever started a ramp: below every clock reading.</summary>
    public const long None = long.MinValue;

    /// <summary>When the last ramp among <paramref name="endpoints"/> ends (monotonic ticks), or <see cref="None"/>.</summary>
    public static long LatestEnd(MeshEndpoint[] endpoints)
    {
        long latest = None;
        foreach (var endpoint in endpoints)
        {
            if (endpoint.Health.SlowStartEndsAtTicks is { } end && end > latest)
            {
                latest = end;
            }
        }

        return latest;
    }
}
