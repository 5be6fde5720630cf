
namespace Mesh.Client;

/// <summary>
/// One source of a request's hash for consistent-hashing balancers (<see cref="BalancerNames.RingHash"/>,
/// <see cref="BalancerNames.Maglev"/>): a header, a cookie, a query parameter, the path, or a delegate. Bound from
/// <c>Mesh:Services:&lt;service&gt;:HashPolicies:&lt;n&gt;</c> (<c>Source</c>, <c>Name</c>, <c>Terminal</c>).
/// </summary>
/// <remarks>
/// <para>
/// A key is hashed with XXH64 (seed 0) of its UTF-8 bytes, as Envoy hashes header values. Several policies combine as
/// in gRPC A42 and Envoy: in order, each policy that finds a key folds it in as <c>hash = rotl(hash, 1) ^ key hash</c>;
/// a <see cref="Terminal"/> policy that finds a key ends the computation. A policy that finds no key is skipped.
/// </para>
/// <para>
/// When no policy finds a key (or none is configured) the request has no hash and the balancer picks a random
/// endpoint, as Envoy does. A request can bring its own key through
/// <see cref="MeshRequestOptions.HashKey"/>, which replaces the policies.
/// </para>
/// </remarks>
public sealed class RequestHashPolicy
{
    /// <summary>Where the key comes from.</summary>
    public RequestHashSource Source { get; set; }

    /// <summary>The header, cookie or query parameter name (header names ignore case; cookie and parameter names do not).</summary>
    public string? Name { get; set; }

    /// <summary>Stop at this policy when it finds a key: later policies are fallbacks. Default: <see langword="false"/>.</summary>
    public bool Terminal { get; set; }

    /// <summary>For <see cref="RequestHashSource.Custom"/>: returns the request's key, or <see langword="null"/> for none. Code only.</summary>
    public Func<HttpRequestMessage, string?>? KeySelector { get; set; }

    /// <summary>A policy hashing the value of header <paramref name="name"/>.</summary>
    public static RequestHashPolicy Header(string name, bool terminal = false) => new() { Source = RequestHashSource.Header, Name = name, Terminal = terminal };

    /// <summary>A policy hashing the value of cookie <paramref name="name"/>.</summary>
    public static RequestHashPolicy Cookie(string name, bool terminal = false) => new() { Source = RequestHashSource.Cookie, Name = name, Terminal = terminal };

    /// <summary>A policy hashing the value of query parameter <paramref name="name"/>.</summary>
    public static RequestHashPolicy QueryParameter(string name, bool terminal = false) =>
        new() { Source = RequestHashSource.QueryParameter, Name = name, Terminal = terminal };

    /// <summary>A policy hashing the request path.</summary>
    public static RequestHashPolicy Path(bool terminal = false) => new() { Source = RequestHashSource.Path, Terminal = terminal };

    /// <summary>A policy hashing what <paramref name="keySelector"/> returns.</summary>
    public static RequestHashPolicy Custom(Func<HttpRequestMessage, string?> keySelector, bool terminal = false)
    {
        ArgumentNullException.ThrowIfNull(keySelector);
        return new() { Source = RequestHashSource.Custom, KeySelector = keySelector, Terminal = terminal };
    }

    internal void Validate(string keyPrefix, List<string> errors)
    {
        switch (Source)
        {
            case RequestHashSource.Header or RequestHashSource.Cookie or RequestHashSource.QueryParameter:
                if (string.IsNullOrWhiteSpace(Name))
                {
                    errors.Add(MeshServiceOptions.Bad(keyPrefix, nameof(Name), Name, $"the {Source} name to hash"));
                }

                break;
            case RequestHashSource.Path:
                break;
            case RequestHashSource.Custom:
                if (KeySelector is null)
                {
                    errors.Add(MeshServiceOptions.Bad(keyPrefix, nameof(KeySelector), null, "a delegate (set in code) for Source 'Custom'"));
                }

                break;
            default:
                errors.Add(MeshServiceOptions.Bad(keyPrefix, nameof(Source), Source, $"one of {string.Join(", ", Enum.GetNames<RequestHashSource>())}"));
                break;
        }
    }
}
