using k8s.Models;
using Mesh.Client.Kubernetes.Discovery;

namespace Mesh.Client.Kubernetes.Tests.Discovery;

public sealed class EndpointSliceProjectionTests
{
    private static readonly string[] Http = ["http"];
    private static readonly PortSelection HttpPort = new(PortSelection.MatchKind.ByName, "http", 0);

    private static V1EndpointSlice Slice(string addressType, params V1Endpoint[] endpoints) => new()
    {
        Metadata = new V1ObjectMeta { Name = "s", ResourceVersion = "1" },
        AddressType = addressType,
        Endpoints = endpoints,
        Ports = [new Discoveryv1EndpointPort { Name = "http", Port = 8080, Protocol = "TCP" }],
    };

    private static V1Endpoint Endpoint(string ip, bool? ready = true, bool? serving = null, bool? terminating = null, params string[] hints) => new()
    {
        Addresses = [ip],
        Conditions = new V1EndpointConditions { Ready = ready, Serving = serving, Terminating = terminating },
        Hints = hints.Length == 0 ? null : new V1EndpointHints { ForZones = hints.Select(z => new V1ForZone { Name = z }).ToList() },
    };

    private static List<string> Merge(string? zone, int minimum, params V1EndpointSlice[] slices) =>
        EndpointSliceProjection.Merge(slices.Select(s => EndpointSliceProjection.Project(s, HttpPort, Http)).ToList(), "IPv4", zone, minimum)
            .Select(e => e.Host).ToList();

    [Fact]
    public void Addresses_the_core_grammar_rejects_are_skipped_and_the_rest_of_the_slice_counts() =>
        Assert.Equal(["10.0.0.1", "10.0.0.2"], Merge(null, 1, Slice("IPv4",
            Endpoint("10.0.0.1"), Endpoint("10.0.0.9@evil.example"), Endpoint("a b"), Endpoint("127.1"), Endpoint("10.0.0.3/x?"), Endpoint("10.0.0.2"))));

    [Fact]
    public void Missing_conditions_mean_ready_as_the_API_reference_says() =>
        Assert.Equal(["10.0.0.1"], Merge(null, 1, Slice("IPv4", new V1Endpoint { Addresses = ["10.0.0.1"] })));

    [Fact]
    public void Not_ready_endpoints_are_excluded_and_serving_terminating_ones_are_a_fallback_only()
    {
        var slice = Slice("IPv4",
            Endpoint("10.0.0.1"),
            Endpoint("10.0.0.2", ready: false, serving: true, terminating: true),
            Endpoint("10.0.0.3", ready: false, serving: false, terminating: false));
        Assert.Equal(["10.0.0.1"], Merge(null, 1, slice));

        var noneReady = Slice("IPv4",
            Endpoint("10.0.0.2", ready: false, serving: true, terminating: true),
            Endpoint("10.0.0.3", ready: false, serving: false, terminating: true),
            Endpoint("10.0.0.4", ready: false));
        Assert.Equal(["10.0.0.2"], Merge(null, 1, noneReady));
    }

    [Fact]
    public void A_dual_stack_service_uses_its_primary_family_and_falls_back_to_the_other()
    {
        var v4 = Slice("IPv4", Endpoint("10.0.0.1"));
        var v6 = Slice("IPv6", Endpoint("fd00::1"));
        var projected = new[] { v4, v6 }.Select(s => EndpointSliceProjection.Project(s, HttpPort, Http)).ToList();
        Assert.Equal(["fd00::1"], EndpointSliceProjection.Merge(projected, "IPv6", null, 1).Select(e => e.Host));
        Assert.Equal(["10.0.0.1"], EndpointSliceProjection.Merge(projected, "IPv4", null, 1).Select(e => e.Host));
        Assert.Equal(["fd00::1"], EndpointSliceProjection.Merge([projected[1]], "IPv4", null, 1).Select(e => e.Host));
        Assert.Empty(EndpointSliceProjection.Project(Slice("FQDN", Endpoint("catalog.example")), HttpPort, Http));
    }

    [Fact]
    public void Topology_hints_for_our_zone_are_preferred_when_enough_remain()
    {
        var slice = Slice("IPv4",
            Endpoint("10.0.0.1", hints: "zone-a"),
            Endpoint("10.0.0.2", hints: "zone-a"),
            Endpoint("10.0.0.3", hints: "zone-b"));
        Assert.Equal(["10.0.0.1", "10.0.0.2"], Merge("zone-a", 1, slice));
        Assert.Equal(["10.0.0.3"], Merge("zone-b", 1, slice));
        Assert.Equal(["10.0.0.1", "10.0.0.2", "10.0.0.3"], Merge("zone-b", 2, slice)); // too few in zone-b: all
        Assert.Equal(["10.0.0.1", "10.0.0.2", "10.0.0.3"], Merge("zone-c", 1, slice)); // none hinted for us: all
        Assert.Equal(["10.0.0.1", "10.0.0.2", "10.0.0.3"], Merge(null, 1, slice));     // our zone unknown: all
    }

    [Fact]
    public void Hints_are_ignored_while_any_chosen_endpoint_lacks_them()
    {
        var slice = Slice("IPv4", Endpoint("10.0.0.1", hints: "zone-a"), Endpoint("10.0.0.2"));
        Assert.Equal(["10.0.0.1", "10.0.0.2"], Merge("zone-a", 1, slice));
    }

    [Fact]
    public void An_address_in_two_slices_is_published_once()
    {
        Assert.Equal(["10.0.0.1", "10.0.0.2"], Merge(null, 1, Slice("IPv4", Endpoint("10.0.0.1")), Slice("IPv4", Endpoint("10.0.0.1"), Endpoint("10.0.0.2"))));
    }

    [Theory]
    [InlineData(null, "https", "http", "https")]
    [InlineData("https", null, "http", "https")]
    [InlineData("http", null, "https", "http")]
    [InlineData("http", null, "https", "https", true)]
    public void The_scheme_follows_the_port_when_the_client_accepts_both(string? name, string? appProtocol, string first, string expected, bool onlyFirst = false)
    {
        var port = new Discoveryv1EndpointPort { Name = name, AppProtocol = appProtocol, Port = 8443 };
        string[] schemes = onlyFirst ? [first] : [first, first == "http" ? "https" : "http"];
        Assert.Equal(expected, PortSelection.SchemeFor(port, schemes));
    }

    [Fact]
    public void A_slice_without_the_chosen_port_contributes_nothing()
    {
        var slice = Slice("IPv4", Endpoint("10.0.0.1"));
        Assert.Empty(EndpointSliceProjection.Project(slice, new PortSelection(PortSelection.MatchKind.ByName, "grpc", 0), Http));
        Assert.Single(EndpointSliceProjection.Project(slice, new PortSelection(PortSelection.MatchKind.ByNumber, null, 8080), Http));
        Assert.Single(EndpointSliceProjection.Project(slice, new PortSelection(PortSelection.MatchKind.FirstPort, null, 0), Http));
    }
}
