using System.Numerics;

namespace Mesh.Client.Balancing;

/// <summary>
/// Computes a request's hash from a service's <see cref="RequestHashPolicy"/> list (gRPC A42's combination), or from the
/// request's own <see cref="MeshRequestOptions.HashKey"/>. Runs on the request path before the pick, only for services
/// whose balancer is hash-based.
/// </summary>
internal sealed class RequestHasher
{
    private readonly RequestHashPolicy[] _policies;

    public RequestHasher(IEnumerable<RequestHashPolicy> policies)
    {
        ArgumentNullException.ThrowIfNull(policies);
        _policies = policies.ToArray();
    }

    /// <summary>The hasher a service needs: <see langword="null"/> unless its balancer picks by hash.</summary>
    public static RequestHasher? For(MeshServiceOptions options) =>
        LoadBalancerFactory.IsHashBased(options.Balancer) || options.HashPolicies.Count > 0 ? new RequestHasher(options.HashPolicies) : null;

    /// <summary>The request's hash, or <see langword="null"/> when no key was found (the balancer then picks at random).</summary>
    public ulong? Compute(HttpRequestMessage request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Options.TryGetValue(MeshRequestOptions.HashKey, out var key) && key is not null)
        {
            return Utf8XxHash64.Hash(key);
        }

        ulong? hash = null;
        foreach (var policy in _policies)
        {
            ulong? next = KeyHash(policy, request);
            if (next is null)
            {
                continue;
            }

            hash = hash is { } previous ? BitOperations.RotateLeft(previous, 1) ^ next.Value : next.Value;
            if (policy.Terminal)
            {
                break;
            }
        }

        return hash;
    }

    private static ulong? KeyHash(RequestHashPolicy policy, HttpRequestMessage request) => policy.Source switch
    {
        RequestHashSource.Header => HeaderHash(request, policy.Name!),
        RequestHashSource.Cookie => CookieHash(request, policy.Name!),
        RequestHashSource.QueryParameter => QueryHash(request.RequestUri, policy.Name!),
        RequestHashSource.Path => request.RequestUri is { IsAbsoluteUri: true } uri ? Utf8XxHash64.Hash(uri.AbsolutePath) : null,
        RequestHashSource.Custom => policy.KeySelector?.Invoke(request) is { } custom ? Utf8XxHash64.Hash(custom) : null,
        _ => null,
    };

    private static ulong? HeaderHash(HttpRequestMessage request, string name)
    {
        if (!request.Headers.NonValidated.TryGetValues(name, out var values) || values.Count == 0)
        {
            return null;
        }

        return values.Count == 1 ? Utf8XxHash64.Hash(values.ToString()) : Utf8XxHash64.Hash(string.Join(',', values));
    }

    private static ulong? CookieHash(HttpRequestMessage request, string name)
    {
        if (!request.Headers.NonValidated.TryGetValues("Cookie", out var headers))
        {
            return null;
        }

        foreach (var header in headers)
        {
            var rest = header.AsSpan();
            while (!rest.IsEmpty)
            {
                int separator = rest.IndexOf(';');
                var pair = (separator < 0 ? rest : rest[..separator]).Trim();
                rest = separator < 0 ? default : rest[(separator + 1)..];
                int equals = pair.IndexOf('=');
                if (equals > 0 && pair[..equals].Trim().SequenceEqual(name))
                {
                    var value = pair[(equals + 1)..].Trim();
                    if (value.Length >= 2 && value[0] == '"' && value[^1] == '"')
                    {
                        value = value[1..^1];
                    }

                    return Utf8XxHash64.Hash(value);
                }
            }
        }

        return null;
    }

    private static ulong? QueryHash(Uri? uri, string name)
    {
        if (uri is null || !uri.IsAbsoluteUri || uri.Query.Length <= 1)
        {
            return null;
        }

        var rest = uri.Query.AsSpan(1);
        while (!rest.IsEmpty)
        {
            int separator = rest.IndexOf('&');
            var pair = separator < 0 ? rest : rest[..separator];
            rest = separator < 0 ? default : rest[(separator + 1)..];
            int equals = pair.IndexOf('=');
            var pairName = equals < 0 ? pair : pair[..equals];
            if (!Unescape(pairName).AsSpan().SequenceEqual(name))
            {
                continue;
            }

            return Utf8XxHash64.Hash(equals < 0 ? string.Empty : Unescape(pair[(equals + 1)..]));
        }

        return null;
    }

    private static string Unescape(ReadOnlySpan<char> text) =>
        text.IndexOfAny('%', '+') < 0 ? text.ToString() : Uri.UnescapeDataString(text.ToString().Replace('+', ' '));
}
