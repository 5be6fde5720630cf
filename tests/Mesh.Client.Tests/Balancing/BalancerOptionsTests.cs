using Mesh.Client.Balancing;
using Mesh.Client.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Mesh.Client.Tests.Balancing;

public sealed class BalancerOptionsTests
{
    [Fact]
    public void PeakEwma_is_the_default_balancer()
    {
        Assert.Equal(BalancerNames.PeakEwma, new MeshServiceOptions().Balancer);
        Assert.IsType<PeakEwmaBalancer>(LoadBalancerFactory.CreateBuiltIn(new MeshServiceOptions(), TimeProvider.System));
    }

    [Theory]
    [InlineData(BalancerNames.RoundRobin, typeof(RoundRobinBalancer))]
    [InlineData(BalancerNames.Random, typeof(RandomBalancer))]
    [InlineData(BalancerNames.PeakEwma, typeof(PeakEwmaBalancer))]
    [InlineData(BalancerNames.LeastRequest, typeof(LeastRequestBalancer))]
    [InlineData(BalancerNames.WeightedRoundRobin, typeof(WeightedRoundRobinBalancer))]
    [InlineData(BalancerNames.RingHash, typeof(RingHashBalancer))]
    [InlineData(BalancerNames.Maglev, typeof(MaglevBalancer))]
    public void The_factory_builds_every_kind(string kind, Type type)
    {
        Assert.IsType(type, new LoadBalancerFactory().Create("catalog", new MeshServiceOptions { Balancer = kind }, TimeProvider.System));
    }

    [Fact]
    public void Every_balancer_setting_binds_from_configuration()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mesh:Services:catalog:Balancer"] = "RingHash",
            ["Mesh:Services:catalog:PeakEwma:Decay"] = "00:00:05",
            ["Mesh:Services:catalog:PeakEwma:SeedRtt"] = "00:00:00.050",
            ["Mesh:Services:catalog:PeakEwma:FailurePenaltyFactor"] = "3",
            ["Mesh:Services:catalog:LeastRequest:ChoiceCount"] = "3",
            ["Mesh:Services:catalog:LeastRequest:FullScan"] = "true",
            ["Mesh:Services:catalog:LeastRequest:ActiveRequestBias"] = "0.5",
            ["Mesh:Services:catalog:RingHash:MinimumRingSize"] = "4096",
            ["Mesh:Services:catalog:RingHash:MaximumRingSize"] = "65536",
            ["Mesh:Services:catalog:Maglev:TableSize"] = "131071",
            ["Mesh:Services:catalog:BalanceFactor"] = "1.25",
            ["Mesh:Services:catalog:HashPolicies:0:Source"] = "Header",
            ["Mesh:Services:catalog:HashPolicies:0:Name"] = "x-user",
            ["Mesh:Services:catalog:HashPolicies:0:Terminal"] = "true",
            ["Mesh:Services:catalog:HashPolicies:1:Source"] = "Path",
        }).Build();
        using var provider = MeshTestHost.Build(m => m.AddStaticEndpoints("catalog", "http://127.0.0.1:1"), configuration);

        var options = provider.GetRequiredService<IOptions<MeshClientOptions>>().Value.Services["catalog"];
        Assert.Equal(BalancerNames.RingHash, options.Balancer);
        Assert.Equal(TimeSpan.FromSeconds(5), options.PeakEwma.Decay);
        Assert.Equal(TimeSpan.FromMilliseconds(50), options.PeakEwma.SeedRtt);
        Assert.Equal(3, options.PeakEwma.FailurePenaltyFactor);
        Assert.Equal(3, options.LeastRequest.ChoiceCount);
        Assert.True(options.LeastRequest.FullScan);
        Assert.Equal(0.5, options.LeastRequest.ActiveRequestBias);
        Assert.Equal(4096, options.RingHash.MinimumRingSize);
        Assert.Equal(65536, options.RingHash.MaximumRingSize);
        Assert.Equal(131071, options.Maglev.TableSize);
        Assert.Equal(1.25, options.BalanceFactor);
        Assert.Collection(options.HashPolicies,
            p => Assert.Equal((RequestHashSource.Header, "x-user", true), (p.Source, p.Name, p.Terminal)),
            p => Assert.Equal(RequestHashSource.Path, p.Source));
    }

    [Fact]
    public void Bad_balancer_settings_fail_start_up_with_each_key_and_value_named()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mesh:Services:catalog:PeakEwma:Decay"] = "00:00:00",
            ["Mesh:Services:catalog:LeastRequest:ChoiceCount"] = "1",
            ["Mesh:Services:catalog:RingHash:MinimumRingSize"] = "0",
            ["Mesh:Services:catalog:Maglev:TableSize"] = "65536",
            ["Mesh:Services:catalog:BalanceFactor"] = "0.5",
            ["Mesh:Services:catalog:HashPolicies:0:Source"] = "Cookie",
        }).Build();
        using var provider = MeshTestHost.Build(m => m.AddStaticEndpoints("catalog", "http://127.0.0.1:1"), configuration);

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<MeshClientOptions>>().Value);
        var messages = string.Join("\n", error.Failures);
        Assert.Contains("'Mesh:Services:catalog:PeakEwma:Decay' is '00:00:00'", messages, StringComparison.Ordinal);
        Assert.Contains("'Mesh:Services:catalog:LeastRequest:ChoiceCount' is '1'", messages, StringComparison.Ordinal);
        Assert.Contains("'Mesh:Services:catalog:RingHash:MinimumRingSize' is '0'", messages, StringComparison.Ordinal);
        Assert.Contains("'Mesh:Services:catalog:Maglev:TableSize' is '65536'; expected a prime number", messages, StringComparison.Ordinal);
        Assert.Contains("'Mesh:Services:catalog:BalanceFactor' is '0.5'", messages, StringComparison.Ordinal);
        Assert.Contains("'Mesh:Services:catalog:HashPolicies:0:Name' is ''", messages, StringComparison.Ordinal);
    }
}
