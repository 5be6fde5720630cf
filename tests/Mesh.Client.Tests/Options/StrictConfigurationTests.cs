using System.Net;
using Mesh.Client.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;

namespace Mesh.Client.Tests.Options;

/// <summary>
/// Bad endpoint addresses and bad options fail start-up naming the key (never a password);
/// a bad reload keeps the last good values, is logged once, shows in diagnostics and throws nothing; and it never poisons
/// a service created after it.
/// </summary>
public sealed class StrictConfigurationTests
{
    private const string Secret = "hunter2";

    private static async Task<Exception> StartFailsAsync(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddMeshClient();
        builder.Services.AddHttpClient("c", c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler();
        using var host = builder.Build();
        return await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
    }

    private static readonly string[] s_badAddresses =
    [
        "127.0.0.1@evil.example:5101",
        "evil.example/x?:5101",
        "127.0.0.1#frag:5101",
        "a b:5101",
        "http://127.0.0.1:0",
        $"http://admin:{Secret}@127.0.0.1:5101",
        $"admin:{Secret}@127.0.0.1:5101",
        "127.1:5101",
    ];

    public static TheoryData<string> BadAddresses => new(s_badAddresses);

    /// <summary>The bad forms without a password (those are the skipped test's, until the configuration resolver stops quoting values).</summary>
    public static TheoryData<string> BadAddressesWithoutPasswords => new(s_badAddresses.Where(a => !a.Contains(Secret, StringComparison.Ordinal)));

    [Theory]
    [MemberData(nameof(BadAddresses))]
    public async Task A_bad_endpoint_address_fails_start_up_naming_the_key_and_never_the_password(string address)
    {
        var error = await StartFailsAsync(new() { ["Services:catalog:http:1"] = address, ["Services:catalog:http:0"] = "127.0.0.1:5100" });

        var failure = Assert.Single(((OptionsValidationException)error).Failures);
        Assert.StartsWith("'Services:catalog:http:1' is '", failure, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Mesh:Services:catalog:Balancr", "RoundRobin", "Mesh:Services:catalog:Balancr")]
    [InlineData("Mesh:Services:catalog:Timeouts:Atempt", "00:00:01", "Mesh:Services:catalog:Timeouts:Atempt")]
    [InlineData("Mesh:Service:catalog:Balancer", "RoundRobin", "Mesh:Service")]
    [InlineData("Mesh:PassThroughUnknownHost", "true", "Mesh:PassThroughUnknownHost")]
    public async Task An_unknown_key_under_Mesh_fails_start_up_naming_it(string key, string value, string named)
    {
        var error = await StartFailsAsync(new() { [key] = value });

        var failure = Assert.Single(((OptionsValidationException)error).Failures);
        Assert.StartsWith($"'{named}' is not a setting", failure, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Mesh:Services:catalog:HostHeader", "1", "Endpoint, LogicalName")]
    [InlineData("Mesh:Services:catalog:Panic:Mode", "0", "RouteToAll")]
    [InlineData("Mesh:Services:catalog:Balancer", "1", "LeastRequest")]
    public async Task An_enum_given_as_a_number_fails_start_up_naming_the_key(string key, string value, string expected)
    {
        var error = await StartFailsAsync(new() { [key] = value });

        var failure = Assert.Single(((OptionsValidationException)error).Failures);
        Assert.StartsWith($"'{key}' is '{value}'; expected one of", failure, StringComparison.Ordinal);
        Assert.Contains(expected, failure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_Resolver_naming_no_registered_resolver_fails_start_up_naming_the_key()
    {
        var error = await StartFailsAsync(new() { ["Mesh:Services:catalog:Resolver"] = "dsn" });

        var failure = Assert.Single(((OptionsValidationException)error).Failures);
        Assert.StartsWith("'Mesh:Services:catalog:Resolver' is 'dsn'; expected one of the registered resolvers: configuration", failure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sections_owned_by_the_DNS_and_Kubernetes_resolvers_and_enum_names_in_any_case_start()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mesh:Kubernetes:Namespace"] = "shop",
            ["Mesh:Dns:Servers:0"] = "127.0.0.1",
            ["Mesh:Services:catalog:Port"] = "http",
            ["Mesh:Services:catalog:Dns:HostName"] = "catalog.example",
            ["Mesh:Services:catalog:hostheader"] = "logicalname",
            ["Mesh:Services:catalog:Resolver"] = "Configuration",
            ["Mesh:Services:catalog:PassiveHealth:FailureStatusCodes:0"] = "503",
            ["Services:catalog:http:0"] = "LOCALHOST:5001",
            ["Services:catalog:https"] = "https://bücher.example",
        });
        builder.Services.AddMeshClient();
        using var host = builder.Build();

        await host.StartAsync();
        await host.StopAsync();
    }

    /// <summary>A mesh over a real loopback backend, with configuration a test replaces at once, and two clients.</summary>
    private sealed class ReloadableMesh : IAsyncDisposable
    {
        private readonly Dictionary<string, string?> _data;
        private readonly MutableConfigurationSource _source;

        private ReloadableMesh(TestBackend backend, Dictionary<string, string?> data)
        {
            Backend = backend;
            _data = new Dictionary<string, string?>(data, StringComparer.OrdinalIgnoreCase);
            _source = new MutableConfigurationSource(_data);
            var services = new ServiceCollection();
            services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Add(_source).Build());
            services.AddFakeLogging();
            services.AddMeshClient();
            foreach (var name in new[] { "a", "b" })
            {
                services.AddHttpClient(name, c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler();
            }

            Provider = services.BuildServiceProvider();
            Logs = Provider.GetFakeLogCollector();
        }

        public TestBackend Backend { get; }

        public ServiceProvider Provider { get; }

        public FakeLogCollector Logs { get; }

        public MeshSnapshot Snapshot => Provider.GetRequiredService<IMeshDiagnostics>().GetSnapshot();

        public static async Task<ReloadableMesh> StartAsync(Func<TestBackend, Dictionary<string, string?>> configuration)
        {
            var backend = await TestBackend.StartAsync();
            return new ReloadableMesh(backend, configuration(backend));
        }

        public HttpClient Client(string name) => Provider.GetRequiredService<IHttpClientFactory>().CreateClient(name);

        public async Task<string> GetAsync(string client, string uri = "/items")
        {
            using var response = await Client(client).GetAsync(new Uri(uri, UriKind.RelativeOrAbsolute)).WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return await response.Content.ReadAsStringAsync();
        }

        /// <summary>Sets (or, with null, removes) values and reloads; returns what the reload callback threw.</summary>
        public Exception? Reload(params (string Key, string? Value)[] changes)
        {
            foreach (var (key, value) in changes)
            {
                if (value is null)
                {
                    _data.Remove(key);
                }
                else
                {
                    _data[key] = value;
                }
            }

            return Record.Exception(() => _source.Replace(_data));
        }

        public FakeLogRecord[] Logged(int eventId) =>
            Logs.GetSnapshot().Where(r => r.Id.Id == eventId && r.Category?.StartsWith("Mesh.Client", StringComparison.Ordinal) == true).ToArray();

        public async ValueTask DisposeAsync()
        {
            await Provider.DisposeAsync();
            await Backend.DisposeAsync();
        }
    }

    [Theory]
    [MemberData(nameof(BadAddressesWithoutPasswords))]
    public async Task A_bad_reloaded_address_keeps_the_last_good_endpoints_is_logged_once_shows_in_diagnostics_and_throws_nothing(string address)
    {
        await using var mesh = await ReloadableMesh.StartAsync(b => new() { ["Services:catalog:http:0"] = b.Authority });
        Assert.Equal("backend", await mesh.GetAsync("a"));

        Assert.Null(mesh.Reload(("Services:catalog:http:0", address)));
        Assert.Null(mesh.Reload(("Mesh:ServiceIdleTimeout", "00:05:00"))); // another reload with the same bad value

        Assert.Equal("backend", await mesh.GetAsync("a"));
        Assert.Equal(2, mesh.Backend.Count);
        var service = Assert.Single(mesh.Snapshot.Services);
        Assert.Equal($"http://{mesh.Backend.Authority}", Assert.Single(service.Endpoints).Key);
        Assert.Contains("'Services:catalog:http:0'", service.LastError, StringComparison.Ordinal);
        var logged = Assert.Single(mesh.Logged(MeshEventIds.ResolverFailed));
        Assert.Contains("'Services:catalog:http:0'", logged.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_reloaded_address_with_a_password_is_rejected_without_echoing_it_in_logs_or_diagnostics()
    {
        await using var mesh = await ReloadableMesh.StartAsync(b => new() { ["Services:catalog:http:0"] = b.Authority });
        Assert.Equal("backend", await mesh.GetAsync("a"));

        Assert.Null(mesh.Reload(("Services:catalog:http:0", $"http://admin:{Secret}@{mesh.Backend.Authority}")));

        Assert.Equal("backend", await mesh.GetAsync("a"));
        var service = Assert.Single(mesh.Snapshot.Services);
        Assert.Contains("'Services:catalog:http:0' is 'http://***@", service.LastError, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, service.LastError, StringComparison.Ordinal);
        Assert.All(mesh.Logs.GetSnapshot(), r => Assert.DoesNotContain(Secret, r.Message + r.Exception, StringComparison.Ordinal));
    }

    [Fact]
    public async Task LOCALHOST_and_localhost_are_one_endpoint()
    {
        await using var mesh = await ReloadableMesh.StartAsync(b => new()
        {
            ["Services:catalog:http:0"] = $"LOCALHOST:{b.Port}",
            ["Services:catalog:http:1"] = $"localhost:{b.Port}",
            ["Services:catalog:http:2"] = $"http://LocalHost:{b.Port}/",
        });

        Assert.Equal("backend", await mesh.GetAsync("a"));

        var endpoint = Assert.Single(Assert.Single(mesh.Snapshot.Services).Endpoints);
        Assert.Equal($"http://localhost:{mesh.Backend.Port}", endpoint.Key);
    }

    [Fact]
    public async Task A_bad_per_service_reload_does_not_poison_a_service_created_after_it()
    {
        await using var mesh = await ReloadableMesh.StartAsync(b => new()
        {
            ["Services:catalog:http:0"] = b.Authority,
            ["Mesh:Services:catalog:Balancer"] = "RoundRobin",
        });
        Assert.Equal("backend", await mesh.GetAsync("a"));

        Assert.Null(mesh.Reload(("Mesh:Services:catalog:Balancer", "Nope"), ("Mesh:Services:catalog:Timeouts:Atempt", "00:00:01")));
        Assert.Null(mesh.Reload(("Mesh:ServiceIdleTimeout", "00:05:00"))); // the same bad section again: not logged again

        Assert.Equal("backend", await mesh.GetAsync("b")); // client b creates the service now, from the last good options
        var services = mesh.Snapshot.Services;
        Assert.Equal(["RoundRobin", "RoundRobin"], services.Select(s => s.Balancer));
        var rejected = Assert.Single(mesh.Snapshot.RejectedConfiguration);
        Assert.Contains("'Mesh:Services:catalog:Balancer' is 'Nope'", rejected, StringComparison.Ordinal);
        Assert.Contains("'Mesh:Services:catalog:Timeouts:Atempt' is not a setting", rejected, StringComparison.Ordinal);
        var logged = Assert.Single(mesh.Logged(MeshEventIds.OptionsReloadRejected));
        Assert.Equal(LogLevel.Error, logged.Level);
        Assert.Contains(rejected, logged.Message, StringComparison.Ordinal);

        Assert.Null(mesh.Reload(("Mesh:Services:catalog:Balancer", "LeastRequest"), ("Mesh:Services:catalog:Timeouts:Atempt", null)));

        Assert.Empty(mesh.Snapshot.RejectedConfiguration);
        Assert.Equal(["LeastRequest", "LeastRequest"], mesh.Snapshot.Services.Select(s => s.Balancer));
    }

    [Fact]
    public async Task A_service_whose_only_configuration_was_rejected_fails_with_a_MeshException_not_an_options_exception()
    {
        await using var mesh = await ReloadableMesh.StartAsync(b => new() { ["Services:catalog:http:0"] = b.Authority });
        using var client = mesh.Client("a"); // the application is running: the mesh has read its configuration

        Assert.Null(mesh.Reload(("Mesh:Services:catalog:HostHeader", "1")));

        var error = await Assert.ThrowsAsync<MeshException>(() => client.GetAsync(new Uri("/items", UriKind.Relative)));
        Assert.IsAssignableFrom<HttpRequestException>(error);
        Assert.Contains("'Mesh:Services:catalog:HostHeader' is '1'", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, mesh.Backend.Count);
    }

    [Fact]
    public async Task Mesh_wide_options_reload_and_a_bad_mesh_wide_reload_keeps_the_last_good_ones_without_throwing()
    {
        await using var mesh = await ReloadableMesh.StartAsync(b => new() { ["Services:catalog:http:0"] = b.Authority });
        var outside = $"http://{mesh.Backend.Authority}/outside"; // a host no resolver knows
        await Assert.ThrowsAsync<UnknownServiceException>(() => mesh.Client("a").GetAsync(new Uri(outside)));

        Assert.Null(mesh.Reload(("Mesh:PassThroughUnknownHosts", "true")));
        Assert.Equal("backend", await mesh.GetAsync("a", outside));

        foreach (var (key, value, named) in new[]
        {
            ("Mesh:ServiceIdleTimeout", "-00:00:05", "Mesh:ServiceIdleTimeout"),
            ("Mesh:ServiceIdleTimeout", "soon", "Mesh:ServiceIdleTimeout"),
            ("Mesh:Service:catalog:Balancer", "Random", "Mesh:Service"),
        })
        {
            Assert.Null(mesh.Reload(("Mesh:PassThroughUnknownHosts", "false"), (key, value)));

            Assert.Equal("backend", await mesh.GetAsync("a", outside)); // still passes through: the last good options
            Assert.Contains($"'{named}'", Assert.Single(mesh.Snapshot.RejectedConfiguration), StringComparison.Ordinal);
            Assert.Null(mesh.Reload((key, null), ("Mesh:PassThroughUnknownHosts", "true")));
        }

        Assert.Equal(3, mesh.Logged(MeshEventIds.MeshOptionsReloadRejected).Length);
        Assert.Empty(mesh.Snapshot.RejectedConfiguration);
    }
}
