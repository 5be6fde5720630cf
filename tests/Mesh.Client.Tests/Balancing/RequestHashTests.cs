using System.Numerics;
using Mesh.Client.Balancing;

namespace Mesh.Client.Tests.Balancing;

public sealed class RequestHashTests
{
    private static ulong? Hash(HttpRequestMessage request, params RequestHashPolicy[] policies) => new RequestHasher(policies).Compute(request);

    private static HttpRequestMessage Get(string uri = "http://catalog/items/42?user=ann&page=2") => new(HttpMethod.Get, uri);

    [Fact]
    public void A_header_policy_hashes_the_header_value()
    {
        using var request = Get();
        request.Headers.Add("x-user", "ann");
        Assert.Equal(Utf8XxHash64.Hash("ann"), Hash(request, RequestHashPolicy.Header("X-User")));
    }

    [Fact]
    public void A_header_with_several_values_hashes_them_joined_with_commas()
    {
        using var request = Get();
        request.Headers.Add("x-tenant", ["a", "b"]);
        Assert.Equal(Utf8XxHash64.Hash("a,b"), Hash(request, RequestHashPolicy.Header("x-tenant")));
    }

    [Fact]
    public void A_cookie_policy_hashes_the_named_cookies_value()
    {
        using var request = Get();
        request.Headers.Add("Cookie", "theme=dark; session=\"s-123\"; other=1");
        Assert.Equal(Utf8XxHash64.Hash("s-123"), Hash(request, RequestHashPolicy.Cookie("session")));
        Assert.Null(Hash(request, RequestHashPolicy.Cookie("Session"))); // cookie names are case-sensitive
    }

    [Fact]
    public void A_query_parameter_policy_hashes_the_unescaped_value()
    {
        using var request = Get("http://catalog/items?page=2&user=J%C3%BCrgen+K");
        Assert.Equal(Utf8XxHash64.Hash("Jürgen K"), Hash(request, RequestHashPolicy.QueryParameter("user")));
        Assert.Null(Hash(request, RequestHashPolicy.QueryParameter("missing")));
    }

    [Fact]
    public void A_path_policy_hashes_the_path_without_the_query()
    {
        using var request = Get();
        Assert.Equal(Utf8XxHash64.Hash("/items/42"), Hash(request, RequestHashPolicy.Path()));
    }

    [Fact]
    public void A_custom_policy_hashes_what_the_delegate_returns()
    {
        using var request = Get();
        Assert.Equal(Utf8XxHash64.Hash("GET"), Hash(request, RequestHashPolicy.Custom(r => r.Method.Method)));
        Assert.Null(Hash(request, RequestHashPolicy.Custom(_ => null)));
    }

    [Fact]
    public void Several_policies_combine_as_grpc_a42_rotate_left_one_then_xor()
    {
        using var request = Get();
        request.Headers.Add("x-user", "ann");
        ulong header = Utf8XxHash64.Hash("ann");
        ulong path = Utf8XxHash64.Hash("/items/42");
        ulong query = Utf8XxHash64.Hash("2");
        ulong expected = BitOperations.RotateLeft(BitOperations.RotateLeft(header, 1) ^ path, 1) ^ query;
        Assert.Equal(expected, Hash(request, RequestHashPolicy.Header("x-user"), RequestHashPolicy.Cookie("none"), RequestHashPolicy.Path(), RequestHashPolicy.QueryParameter("page")));
    }

    [Fact]
    public void A_terminal_policy_that_finds_a_key_stops_the_computation()
    {
        using var request = Get();
        request.Headers.Add("x-user", "ann");
        Assert.Equal(Utf8XxHash64.Hash("ann"), Hash(request, RequestHashPolicy.Header("x-user", terminal: true), RequestHashPolicy.Path()));
        Assert.Equal(Utf8XxHash64.Hash("/items/42"), Hash(request, RequestHashPolicy.Header("x-none", terminal: true), RequestHashPolicy.Path()));
    }

    [Fact]
    public void No_key_found_means_no_hash()
    {
        using var request = Get();
        Assert.Null(Hash(request, RequestHashPolicy.Header("x-user"), RequestHashPolicy.Cookie("session")));
        Assert.Null(Hash(request));
    }

    [Fact]
    public void The_per_request_hash_key_replaces_the_policies()
    {
        using var request = Get();
        request.Headers.Add("x-user", "ann");
        request.Options.Set(MeshRequestOptions.HashKey, "bob");
        Assert.Equal(Utf8XxHash64.Hash("bob"), Hash(request, RequestHashPolicy.Header("x-user")));
    }

    [Fact]
    public void Only_hash_based_balancers_get_a_hasher()
    {
        Assert.Null(RequestHasher.For(new MeshServiceOptions { Balancer = BalancerNames.PeakEwma }));
        Assert.NotNull(RequestHasher.For(new MeshServiceOptions { Balancer = BalancerNames.RingHash }));
        Assert.NotNull(RequestHasher.For(new MeshServiceOptions { Balancer = BalancerNames.Maglev }));
    }
}
