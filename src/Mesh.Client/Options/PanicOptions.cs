namespace Mesh.Client;

/// <summary>What a service does when too few of its endpoints are available.</summary>
public enum PanicMode
{
    /// <summary>Route across every member, healthy or not (Envoy's panic routing, YARP's HealthyOrPanic). The default.</summary>
    RouteToAll = 0,

    /// <summary>
    /// Keep routing to available members only; with none available, requests fail with <see cref="NoEndpointsException"/>
    /// after <see cref="TimeoutOptions.WaitForEndpoint"/>.
    /// </summary>
    FailFast = 1,
}

/// <summary>
/// The panic threshold: when fewer than <see cref="ThresholdPercent"/> of a service's members are available, health
/// information is presumed wrong (or the outage is total) and <see cref="Mode"/> decides. Bound from
/// <c>Mesh:Services:&lt;service&gt;:Panic</c>.
/// </summary>
public sealed class PanicOptions
{
    /// <summary>
    /// The share of members, in percent, that must be available to route by health. Default: 50 (Envoy's
    /// <c>healthy_panic_threshold</c>). 0: panic only when none is available.
    /// </summary>
    public double ThresholdPercent { get; set; } = 50;

    /// <summary>What to do below the threshold. Default: <see cref="PanicMode.RouteToAll"/>.</summary>
    public PanicMode Mode { get; set; } = PanicMode.RouteToAll;

    internal void Validate(string prefix, List<string> errors)
    {
        if (double.IsNaN(ThresholdPercent) || ThresholdPercent < 0 || ThresholdPercent > 100)
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(ThresholdPercent), ThresholdPercent, "0 to 100"));
        }

        if (!Enum.IsDefined(Mode))
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(Mode), Mode, $"one of {string.Join(", ", Enum.GetNames<PanicMode>())}"));
        }
    }
}
