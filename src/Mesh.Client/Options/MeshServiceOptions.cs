using Mesh.Client.Balancing;

namespace Mesh.Client.Options;

/// <summary>
/// How the mesh treats one service: which balancer picks, which resolver finds endpoints, what the Host header says,
/// how long the first request waits for discovery.
/// </summary>
/// <remarks>
/// A service's options are built when a client first uses it, in this order: the defaults below, then configuration
/// <c>Mesh:Services:&lt;service&gt;</c>, then the delegate passed to <c>AddMeshHandler</c> for that client. Invalid
/// values fail application start-up (or the first request, for a service configured only in code) with a message that
/// names the key and the value.
/// </remarks>
public sealed class MeshServiceOptions
{
    /// <summary>The balancing policy. Default: <see cref="BalancerKind.RoundRobin"/>.</summary>
    public BalancerKind Balancer { get; set; } = BalancerKind.RoundRobin;

    /// <summary>
    /// The resolver that owns this service, by name (<c>configuration</c>, <c>static</c>, ...). Default: none, so the
    /// first registered resolver that knows the name wins.
    /// </summary>
    public string? Resolver { get; set; }

    /// <summary>The Host header policy. Default: <see cref="HostHeaderPolicy.Endpoint"/>.</summary>
    public HostHeaderPolicy HostHeader { get; set; } = HostHeaderPolicy.Endpoint;

    /// <summary>
    /// How long the first request to a service waits for its first resolution before failing with
    /// <see cref="ResolutionTimeoutException"/>. Later requests never wait. Default: 5 seconds.
    /// </summary>
    public TimeSpan ResolutionTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Checks every value; returns one message per bad value, each naming <paramref name="keyPrefix"/> plus the key
    /// and quoting the value.
    /// </summary>
    /// <param name="keyPrefix">Where these options came from, e.g. <c>Mesh:Services:catalog</c>.</param>
    public IReadOnlyList<string> Validate(string keyPrefix)
    {
        var errors = new List<string>();
        if (!Enum.IsDefined(Balancer))
        {
            errors.Add(Bad(keyPrefix, nameof(Balancer), Balancer, $"one of {string.Join(", ", Enum.GetNames<BalancerKind>())}"));
        }

        if (!Enum.IsDefined(HostHeader))
        {
            errors.Add(Bad(keyPrefix, nameof(HostHeader), HostHeader, $"one of {string.Join(", ", Enum.GetNames<HostHeaderPolicy>())}"));
        }

        if (Resolver is not null && string.IsNullOrWhiteSpace(Resolver))
        {
            errors.Add(Bad(keyPrefix, nameof(Resolver), Resolver, "a resolver name, or absent"));
        }

        if (ResolutionTimeout <= TimeSpan.Zero || ResolutionTimeout > TimeSpan.FromMinutes(10))
        {
            errors.Add(Bad(keyPrefix, nameof(ResolutionTimeout), ResolutionTimeout, "greater than 0 and at most 00:10:00"));
        }

        return errors;
    }

    /// <summary>Formats one validation error: <c>'prefix:Key' is 'value'; expected ...</c>.</summary>
    internal static string Bad(string keyPrefix, string key, object? value, string expected) =>
        $"'{keyPrefix}:{key}' is '{value}'; expected {expected}.";
}
