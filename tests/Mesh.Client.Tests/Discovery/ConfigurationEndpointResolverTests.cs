using Mesh.Client.Discovery;
using Mesh.Client.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;

namespace Mesh.Client.Tests.Discovery;

public sealed class ConfigurationEndpointResolverTests
{
    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => KeyValuePair.Create(v.Key, (string?)v.Value))).Build();

    private static List<string> Resolve(IConfiguration configuration, EndpointQuery query)
    {
        var observer = new RecordingObserver();
        using var watch = new ConfigurationEndpointResolver(configuration).Watch(query, observer);
        Assert.NotNull(watch);
        Assert.Empty(observer.Errors);
        return observer.Last.Select(e => e.Key).ToList();
    }

    [Fact]
    public void Reads_an_array_of_host_port_values_under_the_scheme_section()
    {
        var configuration = Config(("Services:catalog:http:0", "127.0.0.1:5001"), ("Services:catalog:http:1", "localhost:5002"));

        Assert.Equal(["http://127.0.0.1:5001", "http://localhost:5002"], Resolve(configuration, new EndpointQuery("catalog", ["http"])));
    }

    [Fact]
    public void Reads_a_single_value_and_gives_host_port_the_section_scheme()
    {
        var configuration = Config(("Services:catalog:https", "catalog-1:8443"));

        Assert.Equal(["https://catalog-1:8443"], Resolve(configuration, new EndpointQuery("catalog", ["https"])));
    }

    [Fact]
    public void Https_plus_http_prefers_the_https_section_and_falls_back_to_http()
    {
        var both = Config(("Services:catalog:https:0", "10.0.0.1:443"), ("Services:catalog:http:0", "10.0.0.1:80"));
        var httpOnly = Config(("Services:catalog:http:0", "http://10.0.0.1:80"));

        Assert.Equal(["https://10.0.0.1:443"], Resolve(both, new EndpointQuery("catalog", ["https", "http"])));
        Assert.Equal(["http://10.0.0.1:80"], Resolve(httpOnly, new EndpointQuery("catalog", ["https", "http"])));
    }

    [Fact]
    public void A_host_value_takes_the_request_first_scheme_not_its_section_name_as_MESD_sends_it()
    {
        // MESD's handler gives a host:port value the request's scheme, the first of https+http, whatever its section.
        var httpOnly = Config(("Services:catalog:http:0", "10.0.0.1:80"));

        Assert.Equal(["https://10.0.0.1:80"], Resolve(httpOnly, new EndpointQuery("catalog", ["https", "http"])));
    }

    [Fact]
    public void The_default_section_comes_before_the_scheme_sections_as_in_MESD()
    {
        var configuration = Config(("Services:catalog:default:0", "10.0.0.1:80"), ("Services:catalog:http:0", "10.0.0.2:80"));

        Assert.Equal(["http://10.0.0.1:80"], Resolve(configuration, new EndpointQuery("catalog", ["http"])));
    }

    [Fact]
    public void Uri_values_of_the_most_preferred_scheme_win_within_a_section()
    {
        var configuration = Config(("Services:catalog:default:0", "http://10.0.0.1:80"), ("Services:catalog:default:1", "https://10.0.0.2:443"));

        Assert.Equal(["https://10.0.0.2:443"], Resolve(configuration, new EndpointQuery("catalog", ["https", "http"])));
    }

    [Fact]
    public void A_named_endpoint_reads_its_own_section()
    {
        var configuration = Config(("Services:catalog:http:0", "10.0.0.1:80"), ("Services:catalog:dashboard:0", "10.0.0.1:18888"));

        Assert.Equal(["http://10.0.0.1:18888"], Resolve(configuration, new EndpointQuery("catalog", ["http"], "dashboard")));
    }

    [Fact]
    public void A_service_missing_from_configuration_is_not_claimed()
    {
        var resolver = new ConfigurationEndpointResolver(Config(("Services:catalog:http:0", "10.0.0.1:80")));

        Assert.Null(resolver.Watch(new EndpointQuery("catalgo", ["http"]), new RecordingObserver()));
    }

    [Fact]
    public void A_bad_value_is_reported_naming_the_key_and_nothing_is_published()
    {
        var observer = new RecordingObserver();
        using var watch = new ConfigurationEndpointResolver(Config(("Services:catalog:http:0", "10.0.0.1:eighty")))
            .Watch(new EndpointQuery("catalog", ["http"]), observer);

        Assert.Empty(observer.Snapshots);
        var error = Assert.Single(observer.Errors);
        Assert.Contains("'Services:catalog:http:0' is '10.0.0.1:eighty'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_configuration_change_is_published_live_and_a_later_bad_value_keeps_the_last_good_set()
    {
        var source = new MutableConfigurationSource(new Dictionary<string, string?> { ["Services:catalog:http:0"] = "10.0.0.1:80" });
        var configuration = new ConfigurationBuilder().Add(source).Build();
        var observer = new RecordingObserver();
        using var watch = new ConfigurationEndpointResolver(configuration).Watch(new EndpointQuery("catalog", ["http"]), observer);

        source.Replace(new Dictionary<string, string?> { ["Services:catalog:http:0"] = "10.0.0.1:80", ["Services:catalog:http:1"] = "10.0.0.2:80" });
        Assert.Equal(["http://10.0.0.1:80", "http://10.0.0.2:80"], observer.Last.Select(e => e.Key));

        source.Replace(new Dictionary<string, string?> { ["Services:catalog:http:0"] = "not an address" });
        Assert.Equal(2, observer.Snapshots.Count);
        Assert.Single(observer.Errors);
    }
}
