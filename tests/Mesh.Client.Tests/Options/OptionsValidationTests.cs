using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Mesh.Client.Tests.Options;

/// <summary>Bad settings fail application start-up with a message that names the key and quotes the value.</summary>
public sealed class OptionsValidationTests
{
    private static async Task<Exception> StartFailsAsync(Dictionary<string, string?> settings, Action<IServiceCollection>? services = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddMeshClient();
        builder.Services.AddHttpClient("c", c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler();
        services?.Invoke(builder.Services);
        using var host = builder.Build();
        return await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync());
    }

    [Fact]
    public async Task A_bad_timeout_fails_start_up_naming_key_and_value()
    {
        var error = await StartFailsAsync(new() { ["Mesh:Services:catalog:ResolutionTimeout"] = "-00:00:01" });

        var validation = Assert.IsType<OptionsValidationException>(error);
        Assert.Contains("'Mesh:Services:catalog:ResolutionTimeout' is '-00:00:01'", validation.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_balancer_name_fails_start_up_naming_key_and_value()
    {
        var error = await StartFailsAsync(new() { ["Mesh:Services:catalog:Balancer"] = "Fastest" });

        Assert.Contains("Mesh:Services:catalog:Balancer", error.Message, StringComparison.Ordinal);
        Assert.Contains("Fastest", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_endpoint_address_fails_start_up_naming_the_key()
    {
        var error = await StartFailsAsync(new() { ["Services:catalog:http:0"] = "10.0.0.1:eighty" });

        Assert.Contains("'Services:catalog:http:0' is '10.0.0.1:eighty'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_value_set_in_code_for_a_client_fails_start_up_naming_the_client()
    {
        var error = await StartFailsAsync([], services => services.AddHttpClient("orders")
            .AddMeshHandler(o => o.ResolutionTimeout = TimeSpan.Zero));

        Assert.Contains("AddMeshHandler options of client 'orders':ResolutionTimeout' is '00:00:00'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Valid_settings_start()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mesh:Services:catalog:ResolutionTimeout"] = "00:00:02",
            ["Mesh:Services:catalog:HostHeader"] = "LogicalName",
            ["Services:catalog:http:0"] = "127.0.0.1:5001",
        });
        builder.Services.AddMeshClient();
        using var host = builder.Build();

        await host.StartAsync();

        var options = host.Services.GetRequiredService<IOptions<MeshClientOptions>>().Value;
        Assert.Equal(TimeSpan.FromSeconds(2), options.Services["catalog"].ResolutionTimeout);
        Assert.Equal(HostHeaderPolicy.LogicalName, options.Services["catalog"].HostHeader);
        await host.StopAsync();
    }
}
