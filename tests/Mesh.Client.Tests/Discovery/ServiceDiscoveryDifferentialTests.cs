using System.Net;
using Mesh.Client.Discovery;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.ServiceDiscovery;
using Xunit.Abstractions;

namespace Mesh.Client.Tests.Discovery;

/// <summary>
/// The mesh's configuration resolver against Microsoft.Extensions.ServiceDiscovery (MESD) itself, over one table of
/// configurations: MESD's own <see cref="ServiceEndpointResolver"/> gives the endpoint list (order and count), and MESD's
/// own HTTP handler (<c>AddHttpClient(...).AddServiceDiscovery()</c>) gives the URI it sends each request to (one
/// request per endpoint, round robin from the first). The mesh must publish the same addresses in the same order, or fail where
/// MESD fails.
/// </summary>
public sealed class ServiceDiscoveryDifferentialTests(ITestOutputHelper output)
{
    /// <summary>One configuration, one request URI, and MESD's options.</summary>
    public sealed record Row(string Name, string Uri, (string Key, string Value)[] Config, bool AllowAllSchemes = true, string[]? AllowedSchemes = null)
    {
        public override string ToString() => Name;
    }

    private const string Error = "error";

    public static readonly Row[] Table =
    [
        new("default wins over the scheme section (the issue's case)", "http://svc",
            [("Services:svc:default:0", "10.0.0.1:80"), ("Services:svc:http:0", "10.0.0.2:80")]),
        new("scheme section when there is no default", "http://svc", [("Services:svc:http:0", "10.0.0.2:80")]),
        new("https+http prefers the https section", "https+http://svc",
            [("Services:svc:https:0", "10.0.0.1:443"), ("Services:svc:http:0", "10.0.0.1:80")]),
        new("https+http falls back to http; a host value takes the first scheme", "https+http://svc",
            [("Services:svc:http:0", "10.0.0.1:8080")]),
        new("https+http falls back to http; URI values keep theirs", "https+http://svc",
            [("Services:svc:http:0", "http://a.internal:8080"), ("Services:svc:http:1", "http://b.internal:8080")]),
        new("mixed URIs: only the most preferred scheme present", "https+http://svc",
            [("Services:svc:default:0", "http://10.0.0.1:80"), ("Services:svc:default:1", "https://10.0.0.2:443"), ("Services:svc:default:2", "https://10.0.0.3:443")]),
        new("mixed URIs and hosts for http: hosts always kept, https URIs dropped", "http://svc",
            [("Services:svc:default:0", "https://10.0.0.1:443"), ("Services:svc:default:1", "10.0.0.2:81"), ("Services:svc:default:2", "http://10.0.0.3:82")]),
        new("named endpoint", "http://_dashboard.svc",
            [("Services:svc:http:0", "10.0.0.1:80"), ("Services:svc:dashboard:0", "10.0.0.1:18888")]),
        new("named endpoint missing: nothing", "http://_admin.svc", [("Services:svc:http:0", "10.0.0.1:80")]),
        new("single value", "http://svc", [("Services:svc:http", "10.0.0.9:9000")]),
        new("array of three", "http://svc",
            [("Services:svc:http:0", "10.0.0.1:80"), ("Services:svc:http:1", "10.0.0.2:80"), ("Services:svc:http:2", "localhost:5000")]),
        new("host without a port takes the scheme's default", "http://svc", [("Services:svc:http:0", "catalog.internal")]),
        new("https host without a port", "https://svc", [("Services:svc:https", "catalog.internal")]),
        new("URI without a port", "https://svc", [("Services:svc:https:0", "https://catalog.internal")]),
        new("IPv6", "http://svc", [("Services:svc:http:0", "[::1]:8080"), ("Services:svc:http:1", "http://[::1]:8081")]),
        new("allowed schemes narrow the candidates", "https+http://svc",
            [("Services:svc:http:0", "10.0.0.1:80")], AllowAllSchemes: false, AllowedSchemes: ["https"]),
        new("a disallowed first scheme fails a host value", "https+http://svc",
            [("Services:svc:http:0", "10.0.0.1:80")], AllowAllSchemes: false, AllowedSchemes: ["http"]),
        new("allowed schemes with URI values", "https+http://svc",
            [("Services:svc:default:0", "https://10.0.0.1:443"), ("Services:svc:default:1", "http://10.0.0.2:80")], AllowAllSchemes: false, AllowedSchemes: ["http"]),
        new("non-numeric keys fail", "http://svc", [("Services:svc:http:first", "10.0.0.1:80")]),
        new("an unparsable value fails", "http://svc", [("Services:svc:http:0", "10.0.0.1:eighty")]),
        new("service missing from configuration: nothing", "http://svc", [("Services:other:http:0", "10.0.0.1:80")]),
        new("empty value: nothing", "http://svc", [("Services:svc:http", "")]),
        new("other schemes are dropped", "http://svc", [("Services:svc:default:0", "grpc://10.0.0.1:5000")]),
        new("a section for another scheme only: nothing", "http://svc", [("Services:svc:https:0", "10.0.0.1:443")]),
        new("upper-case request", "HTTP://SVC", [("Services:svc:http:0", "10.0.0.1:80")]),
    ];

    public static TheoryData<Row> Rows() => new(Table);

    [Theory]
    [MemberData(nameof(Rows))]
    public async Task The_mesh_resolves_configuration_to_the_endpoints_MESD_sends_to(Row row)
    {
        var mesd = await MesdAsync(row);
        var mesh = Mesh(row);
        output.WriteLine($"{row.Uri} | {string.Join(", ", row.Config.Select(c => $"{c.Key}={c.Value}"))} | MESD: [{mesd}] | mesh: [{mesh}]");

        Assert.Equal(mesd, mesh);
    }

    /// <summary>The one kind of row where the mesh refuses what MESD accepts: a URI with a path (the mesh sends to scheme, host and port only).</summary>
    [Fact]
    public async Task A_URI_value_with_a_path_is_an_error_naming_the_key_where_MESD_would_prefix_the_path()
    {
        var row = new Row("path", "http://svc", [("Services:svc:http:0", "http://10.0.0.1:80/base")]);

        Assert.Equal("http://10.0.0.1/base/", await MesdAsync(row));
        Assert.Equal(Error, Mesh(row, out var message));
        Assert.Contains("'Services:svc:http:0' is 'http://10.0.0.1:80/base'", message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_table_covers_every_rule_the_brief_names()
    {
        Assert.Contains(Table, r => r.Uri.StartsWith("https+http", StringComparison.Ordinal));
        Assert.Contains(Table, r => r.Uri.Contains("://_", StringComparison.Ordinal));
        Assert.Contains(Table, r => !r.AllowAllSchemes);
        Assert.Contains(Table, r => r.Config.Any(c => c.Key.EndsWith(":http", StringComparison.Ordinal)));
        Assert.Contains(Table, r => r.Config.Any(c => c.Key.EndsWith(":default:0", StringComparison.Ordinal)));
    }

    private static IConfiguration Configuration(Row row) =>
        new ConfigurationBuilder().AddInMemoryCollection(row.Config.Select(c => KeyValuePair.Create(c.Key, (string?)c.Value))).Build();

    private static ServiceDiscoveryOptions Options(Row row)
    {
        var options = new ServiceDiscoveryOptions { AllowAllSchemes = row.AllowAllSchemes };
        foreach (var scheme in row.AllowedSchemes ?? [])
        {
            options.AllowedSchemes.Add(scheme);
        }

        return options;
    }

    /// <summary>What MESD sends to: its resolver's list, each element as its handler rewrites the request; or "error".</summary>
    private static async Task<string> MesdAsync(Row row)
    {
        var services = new ServiceCollection();
        services.AddSingleton(Configuration(row));
        services.AddServiceDiscoveryCore(o =>
        {
            o.AllowAllSchemes = row.AllowAllSchemes;
            foreach (var scheme in row.AllowedSchemes ?? [])
            {
                o.AllowedSchemes.Add(scheme);
            }
        }).AddConfigurationServiceEndpointProvider();
        var sent = new List<string>();
        services.AddHttpClient("mesd").AddServiceDiscovery().ConfigurePrimaryHttpMessageHandler(() => new RecordingHandler(sent));
        await using var provider = services.BuildServiceProvider();

        List<EndPoint> listed;
        try
        {
            await using var resolver = provider.GetRequiredService<ServiceEndpointResolver>();
            var source = await resolver.GetEndpointsAsync(row.Uri, CancellationToken.None);
            listed = source.Endpoints.Select(e => e.EndPoint).ToList();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return Error;
        }

        using var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("mesd");
        try
        {
            for (int i = 0; i < listed.Count; i++)
            {
                using var response = await client.GetAsync(new Uri(row.Uri));
            }
        }
        catch (InvalidOperationException)
        {
            return Error;
        }

        // The handler's round robin starts anywhere in the list: turn its sequence back to the resolver's order.
        return string.Join(", ", InListOrder(listed, sent));
    }

    /// <summary>
    /// <paramref name="sent"/> is a rotation of <paramref name="listed"/> (one request per endpoint, round robin): the
    /// rotation under which each sent URI has its listed endpoint's host (and port, where it has one).
    /// </summary>
    private static List<string> InListOrder(List<EndPoint> listed, List<string> sent)
    {
        Assert.Equal(listed.Count, sent.Count);
        for (int shift = 0; shift < Math.Max(1, sent.Count); shift++)
        {
            var rotated = sent.Skip(shift).Concat(sent.Take(shift)).ToList();
            if (listed.Zip(rotated).All(p => Corresponds(p.First, new Uri(p.Second))))
            {
                return rotated;
            }
        }

        Assert.Fail($"The URIs MESD sent to ({string.Join(", ", sent)}) are not a rotation of its endpoints ({string.Join(", ", listed)}).");
        return sent;
    }

    private static bool Corresponds(EndPoint endpoint, Uri sent) => endpoint switch
    {
        UriEndPoint u => u.Uri.Host == sent.Host && u.Uri.Port == sent.Port,
        IPEndPoint ip => IPAddress.TryParse(sent.IdnHost.Trim('[', ']'), out var address) && address.Equals(ip.Address) && (ip.Port == 0 || ip.Port == sent.Port),
        DnsEndPoint dns => string.Equals(dns.Host, sent.Host, StringComparison.OrdinalIgnoreCase) && (dns.Port == 0 || dns.Port == sent.Port),
        _ => false,
    };

    private static string Mesh(Row row) => Mesh(row, out _);

    /// <summary>What the mesh publishes for the request URI, as <c>scheme://host:port</c> (the default port left out, as a URI prints it); or "error".</summary>
    private static string Mesh(Row row, out string? message)
    {
        var uri = new Uri(row.Uri);
        var query = ServiceDiscoveryQueries.Parse(uri.Scheme, uri.Host);
        var observer = new RecordingObserver();
        using var watch = new ConfigurationEndpointResolver(Configuration(row), Options(row)).Watch(query, observer);
        message = observer.Errors.Count > 0 ? observer.Errors[^1].Message : null;
        if (watch is null)
        {
            return string.Empty; // not claimed: MESD's configuration provider finds nothing either
        }

        if (observer.Errors.Count > 0)
        {
            return Error;
        }

        return string.Join(", ", observer.Last.Select(e => new UriBuilder(e.Scheme, e.Host.Contains(':', StringComparison.Ordinal) ? $"[{e.Host}]" : e.Host, e.Port).Uri.ToString()));
    }

    private sealed class RecordingHandler(List<string> sent) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            sent.Add(request.RequestUri!.GetLeftPart(UriPartial.Authority) + "/" + request.RequestUri.AbsolutePath.TrimStart('/'));
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK));
        }
    }
}
