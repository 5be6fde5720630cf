namespace Mesh.Client;

/// <summary>Timeouts the mesh enforces per service. Bound from <c>Mesh:Services:&lt;service&gt;:Timeouts</c>.</summary>
/// <remarks>
/// <see cref="HttpClient.Timeout"/> (100 s by default) still bounds the whole call from outside; these bound what
/// happens inside the mesh. A timed-out attempt counts against its endpoint and may be retried elsewhere; a total
/// timeout ends the request with a <see cref="TimeoutException"/>.
/// </remarks>
public sealed class TimeoutOptions
{
    /// <summary>
    /// How long one attempt may wait for response headers. Default: 10 seconds (Linkerd's default route timeout), so a
    /// hung or black-holed endpoint is found without anything configured: its timed-out attempts count against it (5 in
    /// a row eject it) and an idempotent request is retried on another endpoint. A response body may take longer. Set it
    /// to the longest time to first byte the service may legitimately need (a long poll), or
    /// <see cref="System.Threading.Timeout.InfiniteTimeSpan"/> (<c>-00:00:00.001</c>) for none.
    /// </summary>
    public TimeSpan Attempt { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a request may take inside the mesh, every attempt and pause included. Default: infinite.</summary>
    public TimeSpan Total { get; set; } = System.Threading.Timeout.InfiniteTimeSpan;

    /// <summary>
    /// How long a request waits for a routable endpoint when the service has endpoints but none is routable (every one
    /// ejected or unhealthy, with <see cref="PanicMode.FailFast"/>) before failing with <see cref="NoEndpointsException"/>.
    /// Default: 3 seconds (Linkerd's failfast timeout). Zero: fail at once. A service whose resolver published no
    /// endpoints at all fails at once, whatever this says: there is nothing to wait for.
    /// </summary>
    public TimeSpan WaitForEndpoint { get; set; } = TimeSpan.FromSeconds(3);

    internal TimeoutOptions Clone() => (TimeoutOptions)MemberwiseClone();

    internal void Validate(string prefix, List<string> errors)
    {
        Check(errors, prefix, nameof(Attempt), Attempt);
        Check(errors, prefix, nameof(Total), Total);
        if (WaitForEndpoint < TimeSpan.Zero || WaitForEndpoint > TimeSpan.FromMinutes(5))
        {
            errors.Add(MeshServiceOptions.Bad(prefix, nameof(WaitForEndpoint), WaitForEndpoint, "00:00:00 to 00:05:00"));
        }
    }

    private static void Check(List<string> errors, string prefix, string key, TimeSpan value)
    {
        if (value != System.Threading.Timeout.InfiniteTimeSpan && (value <= TimeSpan.Zero || value > TimeSpan.FromHours(1)))
        {
            errors.Add(MeshServiceOptions.Bad(prefix, key, value, "greater than 0 and at most 01:00:00, or -00:00:00.001 (infinite)"));
        }
    }
}
