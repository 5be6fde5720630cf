using Mesh.Client.Kubernetes.Discovery;

namespace Mesh.Client.Kubernetes.Tests.Discovery;

public sealed class KubernetesServiceNameTests
{
    [Theory]
    [InlineData("catalog", "catalog", "team-a")]
    [InlineData("catalog.shop", "catalog", "shop")]
    [InlineData("catalog.shop.svc", "catalog", "shop")]
    [InlineData("catalog.shop.svc.cluster.local", "catalog", "shop")]
    [InlineData("Catalog.Shop.SVC.cluster.local", "catalog", "shop")]
    public void The_four_cluster_DNS_forms_name_a_service_and_its_namespace(string host, string name, string ns)
    {
        Assert.True(KubernetesServiceName.TryParse(host, "cluster.local", "team-a", out var parsed));
        Assert.Equal(new KubernetesServiceName(name, ns), parsed);
        Assert.Equal("kubernetes.io/service-name=" + name, parsed.LabelSelector);
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("127.0.0.1")]
    [InlineData("api.example.com")]
    [InlineData("catalog.shop.svc.other.domain")]
    [InlineData("catalog.shop.pod.cluster.local")]
    [InlineData("1catalog")]
    [InlineData("cata_log")]
    [InlineData("catalog.-shop")]
    [InlineData("")]
    public void Other_hosts_are_not_service_names(string host) =>
        Assert.False(KubernetesServiceName.TryParse(host, "cluster.local", "default", out _));

    [Fact]
    public void A_custom_cluster_domain_is_honoured() =>
        Assert.True(KubernetesServiceName.TryParse("catalog.shop.svc.corp.internal", "corp.internal", "default", out _));
}
